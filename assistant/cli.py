"""The ``assistant`` command: index, ask, serve, corpus check.

Machine output (``--json``) goes to stdout; logs, progress and errors go to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from corpus.errors import AssistantError

app = typer.Typer(
    help="Assistant de questions-réponses sourcé sur l'action du CNRS en IA.\n\n"
    "Exemple : assistant ask \"Quel est le budget du PEPR IA ?\"",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
index_app = typer.Typer(help="Construire et inspecter l'index.", no_args_is_help=True)
corpus_app = typer.Typer(help="Vérifier le corpus.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(corpus_app, name="corpus")

err = None  # rich console on stderr, created on first use


def _stderr():
    global err
    if err is None:
        from rich.console import Console

        err = Console(stderr=True, soft_wrap=True)
    return err


def _plain(text) -> str:
    """``text`` escaped for rich markup: corpus text, exception messages and model output are shown as they are.

    Unescaped, a record id « [/x] » crashed the command (MarkupError) after its work was done, and « [a-z0-9] »
    vanished from a schema message, read as a style tag.
    """
    from rich.markup import escape

    return escape(str(text))


def fail(message: str, code: int = 1):
    _stderr().print(f"[bold red]Erreur :[/] {_plain(message)}", highlight=False)
    raise typer.Exit(code)


def load_settings():
    from assistant.settings import EnvironmentValueError, Settings, config_path

    try:
        return Settings()
    except ValidationError as exc:
        # pydantic prefixes our validators' messages with « Value error, »: they are written to be read alone
        lines = [f"  {'.'.join(str(p) for p in e['loc']) or 'environnement'} : "
                 f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        if len(lines) == 1:
            fail(f"réglage invalide : {lines[0].strip()}")
        fail("réglages invalides\n" + "\n".join(lines))
    except (OSError, ValueError) as exc:
        # pydantic-settings wraps a variable it cannot decode in its own error: the variable's is the cause
        if isinstance(exc.__cause__, EnvironmentValueError):
            fail(str(exc.__cause__))
        try:
            where = f" {config_path() or ''}".rstrip()
        except ValueError:  # ASSISTANT_CONFIG names no file: exc says so
            where = ""
        fail(f"fichier de réglages{where} illisible : {exc}")


@app.callback()
def main_callback(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Journal détaillé sur stderr.")] = False,
):
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged PDF is reported once, as a problem


@index_app.command("build")
def index_build(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Dire ce qui serait ajouté, modifié, retiré, sans rien écrire.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Tout revectoriser, même ce que l'index actuel contient déjà.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Bilan (ou plan, avec --dry-run) en JSON sur stdout.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirmer une construction qui vectorise plus de "
                                                         "limits.build_texts textes.")] = False,
):
    """Construire l'index à partir du corpus ; seuls les passages nouveaux ou modifiés sont vectorisés.

    Exemples : assistant index build --dry-run ; assistant index build ; assistant index build --full
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from assistant.app import build_index_from_settings, plan_index_build

    settings = load_settings()
    if dry_run:
        plan, problems = plan_index_build(settings, full=full)
        if json_out:
            print(json.dumps({**plan.as_dict(), "problems": [str(p) for p in problems]}, ensure_ascii=False))
            return
        print(f"Construction {'complète' if plan.full else 'incrémentale'} : {plan.reason}")
        for label, ids in (("ajouté(s)", plan.added), ("modifié(s)", plan.changed), ("retiré(s)", plan.removed)):
            print(f"  {len(ids)} document(s) {label}" + (f" : {', '.join(ids[:20])}{' …' if len(ids) > 20 else ''}"
                                                       if ids else ""))
        print(f"  {plan.unchanged} document(s) inchangé(s)\n  textes à vectoriser : {plan.to_embed}, "
              f"vecteurs réutilisés : {plan.reused}")
        if plan.to_embed > settings.limits.build_texts:
            print(f"  au-delà de limits.build_texts ({settings.limits.build_texts}) : la construction demandera --yes")
        for problem in problems:
            print(f"  problème : {problem}")
        print("(rien n'a été écrit)")
        return
    started = time.perf_counter()
    if not _stderr().is_terminal:  # a log or a CI job: a plain line every ten seconds instead of a bar
        manifest, problems = build_index_from_settings(settings, _progress_lines(), full=full, confirmed=yes)
    else:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=_stderr(),
                      transient=True) as bar:
            tasks = {}

            def progress(stage, done, total):
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total, rate="")
                elapsed = bar.tasks[tasks[stage]].elapsed or 0
                rate = f"{done / elapsed:.1f} textes/s" if stage == "vectorisation" and elapsed > 0.5 else ""
                bar.update(tasks[stage], completed=done, total=total, rate=rate)

            manifest, problems = build_index_from_settings(settings, progress, full=full, confirmed=yes)
    for problem in problems:
        _stderr().print(f"[yellow]problème[/] {_plain(problem)}", highlight=False)
    c, b = manifest.counts, manifest.build
    if json_out:
        print(json.dumps({"version": manifest.version, "seconds": round(time.perf_counter() - started, 2),
                          "counts": c, "build": b, "store": manifest.store, "problems": [str(p) for p in problems]},
                         ensure_ascii=False))
        return
    rate = f", {b['passages_per_second']} textes/s" if b.get("passages_per_second") else ""
    _stderr().print(
        f"Index {manifest.version} construit en {manifest.build_seconds:.1f} s "
        f"({'complet' if b['full'] else 'incrémental'} : {b['reason']}) : {c['documents']} document(s), "
        f"{c['records']} fiche(s), {c['chunks']} passages, {c['sentences']} phrases ; "
        f"{b['embedded']} texte(s) vectorisé(s){rate}, {b['reused']} réutilisé(s) "
        f"({manifest.embedder['id']}) → {settings.index.dir} ; stockage : {_describe_store(manifest.store)}",
        highlight=False, markup=False,  # a folder, a reason or a Milvus URI may hold « [ »
    )


def _progress_lines(every: float = 10.0):
    """A progress callback that prints « vectorisation : 1200/5000 (48.3 textes/s) » at most every ``every`` s."""
    state = {"last": 0.0, "started": {}}

    def progress(stage, done, total):
        now = time.monotonic()
        started = state["started"].setdefault(stage, now)
        if now - state["last"] >= every or (done == total and now - started >= every):
            state["last"] = now
            rate = f" ({done / (now - started):.1f} textes/s)" if stage == "vectorisation" and now > started else ""
            print(f"{stage} : {done}/{total}{rate}", file=sys.stderr, flush=True)

    return progress


@index_app.command("status")
def index_status(
    json_out: Annotated[bool, typer.Option("--json", help="Sortie JSON sur stdout.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Code de sortie 1 si l'index est inutilisable avec ces réglages ou si le corpus a changé.")] = False,
):
    """Afficher la version active de l'index, ses comptes, et si le corpus a changé depuis.

    Exemple : assistant index status --json
    """
    from assistant.app import index_status as read_status
    from assistant.app import settings_embedder, store_config
    from index.build import load_index, milvus_problem, read_manifest

    settings = load_settings()
    status = read_status(settings)
    # the checksums cover the version folder, not what Milvus holds: the engine is asked (a deleted or damaged Lite
    # file, a missing collection); a Lite file that another process holds is in service there, so not a problem
    store_problem, store_checked = milvus_problem(read_manifest(Path(status["path"])), store_config(settings))
    if store_checked:
        status["store_checked"], status["store_problem"] = store_checked, store_problem
    if check and not status["damaged_files"] and not store_problem:  # refuses another embedder, analyser or store
        load_index(settings.index.dir, settings_embedder(settings).identity, store=store_config(settings))
    if json_out:
        print(json.dumps(status, ensure_ascii=False))
    else:
        _print_status(status)
        if store_checked:
            print(f"Milvus    : {store_checked}")
    if status["damaged_files"]:  # whatever the options: an index that does not load is not « fine »
        fail(f"index altéré : {', '.join(status['damaged_files'])} absent(s) ou modifié(s) depuis la construction "
             "— reconstruisez-le : assistant index build")
    if store_problem:
        fail(store_problem)
    if check and status["corpus_changed"]:
        raise typer.Exit(1)


def _print_status(status: dict) -> None:
    from assistant.app import describe_changes

    changes, manifest_counts = status["changes"], status["counts"]
    changed = describe_changes(changes)
    print(f"Version   : {status['version']} ({status['built_at']})\nDossier   : {status['path']}\n"
          f"Embedder  : {status['embedder']['id']} ({status['embedder']['dimension']} dim.)\n"
          f"Stockage  : {_describe_store(status['store'])}\n"
          f"Contenu   : " + ", ".join(f"{k} {v}" for k, v in manifest_counts.items()) + "\n"
          "Corpus    : " + (f"modifié depuis ({changed}) — assistant index build" if changed else "inchangé"))


def _describe_store(store: dict) -> str:
    if store.get("engine") != "milvus":
        return "FAISS + BM25 (fichiers de l'index)"
    return f"Milvus {store.get('uri')}, collection {store.get('collection')} ({store.get('index_type')})"


def _preload_question_encoder(settings) -> None:
    """Start loading the question encoder on a thread while llama-index is imported: 1 s of a cold ask."""
    from index import e5_model

    folder = e5_model.default_folder()
    backend, onnx_file = e5_model.BACKENDS.get(settings.index.e5_backend, (None, None))
    if settings.index.embedder == "e5" and backend == "onnx" and e5_model.read_manifest(folder) is not None:
        from index.onnx_encoder import preload

        preload(folder, onnx_file)
    if settings.answer.reader == "learned":
        from assistant.read.learned import Reader

        Reader.preload()


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="La question, entre guillemets.")],
    json_out: Annotated[bool, typer.Option("--json", help="Un objet JSON sur stdout.")] = False,
    history: Annotated[Optional[list[str]], typer.Option(
        "--history", help="Question précédente de la conversation (répétable, la plus ancienne d'abord).")] = None,
    mode: Annotated[Optional[str], typer.Option(
        "--mode", help="extractive, generative ou auto (réglage answer.mode).")] = None,
):
    """Poser une question ; la réponse cite ses sources.

    Exemple : assistant ask "Qui porte le projet SHARP ?" --mode generative --json
    """
    if mode:
        os.environ["ASSISTANT_ANSWER__MODE"] = mode
    settings = load_settings()
    _preload_question_encoder(settings)
    from assistant.compose.answer import Answer
    from assistant.app import build

    assistant = build(settings)
    draft = []
    err = _stderr()
    show_draft = not json_out and err.is_terminal
    answer = None
    for event in assistant.ask_stream(question, history=history):
        if isinstance(event, Answer):
            answer = event
        elif show_draft:  # the draft goes to the terminal as it is written; the checked answer follows
            draft.append(event)
            err.print(event, end="", style="dim", highlight=False, soft_wrap=True, markup=False)
    if draft:
        err.print()
    global _SKIP_TEARDOWN
    _SKIP_TEARDOWN = True
    if json_out:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    if answer.notice:
        err.print(answer.notice, style="yellow", highlight=False, markup=False)
    print(answer.answer)
    for c in answer.citations:
        print(f"\n[{c.n}] {c.title} — {c.source}\n    « {' '.join(c.quote.split())} »")


@app.command()
def batch(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="Questions : .jsonl, .csv ou .txt (une par ligne).")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Fichier de sortie (défaut : stdout).")] = None,
    out_format: Annotated[Optional[str], typer.Option(
        "--format", help="jsonl ou csv (défaut : d'après l'extension de OUTPUT, sinon jsonl).")] = None,
    in_format: Annotated[Optional[str], typer.Option(
        "--input-format", help="jsonl, csv ou txt (défaut : d'après l'extension de INPUT).")] = None,
    mode: Annotated[Optional[str], typer.Option(
        "--mode", help="extractive, generative ou auto (réglage answer.mode).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Reprendre : sauter les id déjà répondus dans OUTPUT ; les erreurs sont retentées.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=32, help="Questions traitées en parallèle.")] = 1,
    summary_json: Annotated[bool, typer.Option("--summary-json", help="Bilan final en JSON sur stderr.")] = False,
):
    """Répondre à un fichier de questions ; une réponse sourcée par question, écrite au fil de l'eau.

    Exemple : assistant batch questions.jsonl -o reponses.csv --workers 2
    """
    from typing import get_args

    from assistant.batch import (INPUT_FORMATS, OUTPUT_FORMATS, RecordWriter, detect_format, load_done,
                                 read_items, run_batch, sort_output)
    from assistant.settings import AnswerSettings

    modes = get_args(AnswerSettings.model_fields["mode"].annotation)
    if mode and mode not in modes:  # an invalid option: exit 2, like the others, not a settings error
        fail(f"--mode doit être l'un de : {', '.join(modes)} (réglage answer.mode)", 2)
    if in_format and in_format not in INPUT_FORMATS:
        fail(f"--input-format doit être l'un de : {', '.join(INPUT_FORMATS)}", 2)
    if out_format and out_format not in OUTPUT_FORMATS:
        fail(f"--format doit être l'un de : {', '.join(OUTPUT_FORMATS)}", 2)
    if resume and output is None:
        fail("--resume demande un fichier de sortie (-o)", 2)
    if output is not None and output.resolve() == input_path.resolve():
        fail("le fichier de sortie ne peut pas être le fichier de questions", 2)
    if mode:
        os.environ["ASSISTANT_ANSWER__MODE"] = mode
    settings = load_settings()
    items = read_items(input_path, in_format)
    fmt = out_format or (detect_format(output, OUTPUT_FORMATS, "jsonl") if output else "jsonl")
    from assistant.app import build

    assistant = build(settings)
    done = load_done(output, fmt) if (resume and output) else []
    for problem in (i for i in items if not hasattr(i, "question")):
        _stderr().print(f"[yellow]ligne {problem.line}[/] : {_plain(problem.message)}", highlight=False)
    if output is not None and not resume and output.exists():
        output.unlink()
    if output is None:
        sys.stdout.reconfigure(errors="backslashreplace")
    handle = open(output, "a", encoding="utf-8", newline="", errors="backslashreplace") if output else sys.stdout
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    try:
        writer = RecordWriter(handle, fmt, write_header=not done)
        with Progress(TextColumn("questions"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                      console=_stderr(), transient=True) as bar:
            skip = {r["id"] for r in done}
            task = bar.add_task("batch", total=sum(1 for i in items if i.id not in skip), rate="")

            def tick(record):
                elapsed = bar.tasks[task].elapsed or 0
                completed = bar.tasks[task].completed + 1
                bar.update(task, advance=1, rate=f"{completed / elapsed:.1f} q/s" if elapsed else "")

            summary = run_batch(assistant, items, writer, workers=workers, mode=settings.answer.mode,
                                skip_ids=skip, on_record=tick)
    finally:
        if output:
            handle.close()
    if resume:  # retried questions were appended: back to input order
        sort_output(output, fmt, [i.id for i in items])
    report = summary.as_dict()
    if summary_json:
        _stderr().print(json.dumps(report, ensure_ascii=False), highlight=False, soft_wrap=True, markup=False)
    else:
        accuracy = f", exactitude {report['accuracy']:.1%} sur {report['judged']}" if report["judged"] else ""
        p50, p95 = report["latency_p50_ms"], report["latency_p95_ms"]
        latency = f", latence p50 {p50:.0f} ms / p95 {p95:.0f} ms" if p50 is not None else ""
        _stderr().print(
            f"{report['questions']} question(s) : {report['answered']} répondue(s), {report['abstained']} "
            f"abstention(s), {report['errors']} erreur(s), {report['skipped']} déjà faite(s){accuracy}{latency}, "
            f"{report['seconds']} s ({report['questions_per_second'] or 0} q/s)",
            highlight=False, markup=False,
        )
    if report["errors"]:
        raise typer.Exit(1)


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

    from assistant.app import MODES

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
        _stderr().print(f"[yellow]ligne {problem.line}[/] : {_plain(problem.message)}", highlight=False)
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
        assistant.answerer.min_confidence = float("-inf")  # answer everything, then fit the threshold
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


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Adresse d'écoute (défaut : ui.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(min=1, max=65535, help="Port (défaut : ui.port, 7860).")] = None,
    api_only: Annotated[bool, typer.Option("--api-only", help="Servir seulement l'API compatible OpenAI (/v1).")] = False,
):
    """Servir le chat web et l'API compatible OpenAI (/v1/models, /v1/chat/completions).

    Exemple : assistant serve --port 7860 ; assistant serve --api-only --port 8000
    """
    import ipaddress
    from importlib.metadata import entry_points

    from assistant.app import build

    settings = load_settings()
    host = host or settings.ui.host
    try:  # 127.0.0.0/8, ::1 or « localhost »: only this machine reaches it
        loopback = host.strip("[] ").lower() == "localhost" or ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        loopback = False
    if not settings.ui.username and not loopback:
        _stderr().print(
            f"[bold yellow]Attention :[/] le chat sera servi sur {_plain(host)}, hors de la boucle locale, sans "
            "identification : toute personne qui atteint cette adresse peut l'utiliser. Définissez "
            "ui.username et ui.password (ASSISTANT_UI__PASSWORD) pour exiger une identification.", highlight=False)
    if api_only:
        try:
            import uvicorn

            from ui.api import app as api_app
            from ui.app import api_allowed
        except ImportError as exc:
            fail(f"l'API demande fastapi et uvicorn : pip install -e '.[ui]' ({exc})")
        if not api_allowed(settings, host):
            fail(f"sur {host}, hors de la boucle locale, l'API exige des clés : api.keys (ASSISTANT_API__KEYS), "
                 "ou api.enabled est faux")
        assistant = build(settings)
        uvicorn.run(api_app(assistant, settings), host=host, port=port or settings.ui.port, log_level="warning")
        return
    assistant = build(settings)
    # The web front end registers itself (pyproject: [project.entry-points."assistant.frontends"]):
    # the assistant never imports the ui package.
    found = [e for e in entry_points(group="assistant.frontends") if e.name == "web"]
    if not found:
        fail("aucune interface web installée : pip install -e '.[ui]'")
    try:
        launch = found[0].load()
    except ImportError as exc:
        fail(f"l'interface web demande gradio : pip install -e '.[ui]' ({exc})")
    launch(assistant, host=host, port=port or settings.ui.port)


@corpus_app.command("check")
def corpus_check(json_out: Annotated[bool, typer.Option("--json", help="Sortie JSON sur stdout.")] = False):
    """Valider tout le corpus (documents et fiches), résumer son contenu et lister les faits à plusieurs valeurs.

    Exemple : assistant corpus check
    """
    from collections import Counter

    from assistant.app import load_corpus_from_settings

    settings = load_settings()
    documents, problems = load_corpus_from_settings(settings)
    kinds = Counter(d.metadata.get("record_kind", "document") for d in documents)
    several = [{"record": d.doc_id, "field": f["field"], "values": [v["value"] for v in f["values"]]}
               for d in documents if d.kind == "record" for f in d.metadata["facts"] if len(f["values"]) > 1]
    if json_out:
        print(json.dumps({"counts": dict(kinds), "several_values": several, "problems": [str(p) for p in problems]},
                         ensure_ascii=False))
    else:
        print(f"{len(documents)} entrées : " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        if several:
            print(f"{len(several)} fait(s) à plusieurs valeurs (les réponses les donnent toutes, chacune avec sa source) :")
            for item in several:
                print(f"  {item['record']} › {item['field']} : " + " | ".join(item["values"]))
        for problem in problems:
            print(f"  problème : {problem}")
    if problems:
        raise typer.Exit(1)


@corpus_app.command("show")
def corpus_show(ids: Annotated[list[str], typer.Argument(help="Identifiants de fiches ou de documents.")]):
    """Afficher le texte indexé de fiches ou de documents, phrase par phrase, tel que l'assistant le cite.

    Exemple : assistant corpus show pepr-ia centre-aissai
    """
    from assistant.app import load_corpus_from_settings

    settings = load_settings()
    documents, problems = load_corpus_from_settings(settings)
    by_id = {d.doc_id: d for d in documents}
    unknown = [i for i in ids if i not in by_id]
    for doc_id in ids:
        if doc_id in by_id:
            print(f"# {doc_id} — {by_id[doc_id].title}")
            _print_indexed(by_id[doc_id], settings)
    for problem in problems:
        if any(problem.where.endswith(f"› {i}") for i in ids):
            print(f"problème : {problem}")
    if unknown:
        fail(f"identifiant(s) inconnu(s) : {', '.join(unknown)} (voir assistant corpus check)")


def _print_indexed(document, settings) -> None:
    """The sentences the index holds for ``document``, once each, under their section: what can be quoted, and
    nothing else (a title line left out of the passages is not shown as text)."""
    from index.chunking import chunk_document

    chunks = chunk_document(document, settings.index.chunk_chars, settings.index.chunk_overlap)
    if not chunks:
        print("(aucun passage indexé)")
    section, shown = "", set()
    for chunk in chunks:
        if chunk.section != section:
            section = chunk.section
            print(f"## {section}")
        for a, b in chunk.sentences:
            if chunk.start + a not in shown:  # consecutive passages share a sentence
                shown.add(chunk.start + a)
                print(" ".join(chunk.text[a:b].split()))


# Set by a command that has written everything it had to: the interpreter's teardown of llama-index's modules and
# of the ONNX session then only costs time (0.6 s of a 2.6 s `assistant ask`), and is skipped.
_SKIP_TEARDOWN = False


def _exit_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)


def main():
    from assistant.settings import offline_environment

    offline_environment()
    try:
        app()
    except SystemExit as done:
        if _SKIP_TEARDOWN and not done.code:
            _exit_now()
        raise
    except AssistantError as exc:
        _stderr().print(f"[bold red]Erreur :[/] {_plain(exc)}", highlight=False)
        sys.exit(1)
    except OSError as exc:  # a path that is a file, a port in use…: the system's own words, on one line
        _stderr().print(f"[bold red]Erreur système :[/] {_plain(exc)}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
