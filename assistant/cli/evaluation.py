"""``assistant eval``: quality on a question set (retrieval, accuracy, abstention, citations, latency)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from assistant.cli import app
from assistant.cli.console import fail, load_settings, plain, stderr


@app.command("eval")
def eval_command(
    input_path: Annotated[Path, typer.Argument(metavar="FILE", help="Jeu de questions JSONL (expect / abstain / doc_ids).")],
    json_out: Annotated[bool, typer.Option("--json", help="Rapport complet en JSON sur stdout.")] = False,
    compare_with: Annotated[Optional[Path], typer.Option("--compare", help="Rapport JSON précédent à comparer.")] = None,
    retrieval: Annotated[Optional[str], typer.Option("--retrieval", help="hybrid, dense ou bm25 (réglage retrieval.mode).")] = None,
    mode: Annotated[Optional[str], typer.Option(
        "--mode", help="extractive, generative ou auto (réglage answer.mode).")] = None,
    fit: Annotated[bool, typer.Option("--calibrate", help="Ajuster le seuil d'abstention sur ce jeu.")] = False,
    max_false_abstention: Annotated[float, typer.Option(help="Limite d'abstentions à tort pour --calibrate.")] = 0.05,
):
    """Mesurer la qualité sur un jeu de questions : recherche, exactitude, abstention, citations, latence.

    Exemple : assistant eval eval/dev_qa.jsonl --json > rapport.json
    """
    from assistant.app import build
    from assistant.batch import read_items
    from assistant.evaluate.metrics import calibrate, compare, evaluate_item, run_eval

    from assistant.pipeline import MODES

    if retrieval and retrieval not in ("hybrid", "dense", "bm25"):
        fail("--retrieval doit être l'un de : hybrid, dense, bm25 (réglage retrieval.mode)", 2)
    if mode and mode not in MODES:
        fail(f"--mode doit être l'un de : {', '.join(MODES)} (réglage answer.mode)", 2)
    if retrieval:
        os.environ["ASSISTANT_RETRIEVAL__MODE"] = retrieval
    if mode:
        os.environ["ASSISTANT_ANSWER__MODE"] = mode
    settings = load_settings()
    items = read_items(input_path, "jsonl")
    problems = [i for i in items if not hasattr(i, "question")]
    for problem in problems:
        stderr().print(f"[yellow]ligne {problem.line}[/] : {plain(problem.message)}", highlight=False)
    unjudged = [i.id for i in items if hasattr(i, "question") and not i.expectation.given]
    if unjudged:
        fail(f"questions sans attente (expect, expect_all ou abstain) : {', '.join(unjudged[:10])}")
    if len(problems) == len(items):
        fail(f"aucune question lisible dans {input_path} (JSONL attendu : une question par ligne)")
    old = None
    if compare_with:
        try:
            old = json.loads(compare_with.read_text(encoding="utf-8"))
            if not isinstance(old, dict) or not all(isinstance(i, dict) and {"id", "correct"} <= set(i)
                                                    for i in old.get("items", [])):
                raise ValueError("ce n'est pas un rapport de assistant eval --json")
        except (OSError, ValueError) as exc:
            fail(f"rapport de comparaison illisible : {exc}")
    assistant = build(settings)
    report = run_eval(assistant, items)
    report["settings"] = {"retrieval": settings.retrieval.model_dump(), "answer": settings.answer.model_dump(mode="json"),
                          "embedder": settings.index.embedder}
    if fit:
        assistant.pipeline.extractive.abstention.min_confidence = float("-inf")  # answer everything, then fit the threshold
        chunk_texts = {c.chunk_id: c.text for c in assistant.index.chunks}
        raw = [evaluate_item(assistant, i, chunk_texts) for i in items if hasattr(i, "question")]
        report["calibration"] = calibrate(raw, max_false_abstention)
    if old is not None:
        report["comparison"] = compare(old, report)
    if json_out:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    r = report
    pct = lambda v: "—" if v is None else f"{v:.1%}"  # noqa: E731
    print(f"{r['questions']} questions ({r['errors']} erreurs), {r['seconds']} s")
    print(f"recherche   hit@1 {pct(r['retrieval']['hit@1'])}  hit@3 {pct(r['retrieval']['hit@3'])}  "
          f"MRR {r['retrieval']['mrr']}")
    print(f"réponses    exactitude {pct(r['accuracy'])} (répondables), {pct(r['accuracy_all'])} (toutes)")
    a = r["abstention"]
    print(f"abstention  précision {pct(a['precision'])}  rappel {pct(a['recall'])}  "
          f"à tort {pct(a['false_abstention_rate'])}")
    print(f"citations   valides {pct(r['citation_validity'])}")
    if r.get("generation"):
        g = r["generation"]
        print(f"génération  rédigées et étayées {pct(g['grounded_share'])} des {g['asked']} demandées, "
              f"exactes {pct(g['accuracy_of_generated'])} ; repli : {g['fallbacks'] or 'aucun'} ; "
              f"premier jeton p50 {g['first_token_ms']['p50']} ms")
    print(f"latence     p50 {r['latency_ms']['p50']} ms  p95 {r['latency_ms']['p95']} ms")
    print("catégories  " + "  ".join(f"{k} {pct(v)}" for k, v in r["by_category"].items()))
    for item in r["items"]:
        if not item["correct"] or item["citation_problems"]:
            print(f"  ✗ {item['id']} [{item['category']}] {item['question'][:70]} → {item['answer'][:90]!r}"
                  + (f" {item['citation_problems']}" if item["citation_problems"] else ""))
    if "calibration" in r:
        print(f"calibrage   seuil {r['calibration']}")
    if "comparison" in r:
        c = r["comparison"]
        print(f"comparaison {c['deltas']}\n  corrigées {c['fixed']}\n  régressions {c['regressed']}")
    if problems:
        raise typer.Exit(1)
