"""``assistant ask`` and ``assistant batch``: one question, or a file of them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from assistant.cli import app
from assistant.cli.console import TEARDOWN, fail, load_settings, plain, stderr


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
    err = stderr()
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
    TEARDOWN["skip"] = True
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
        stderr().print(f"[yellow]ligne {problem.line}[/] : {plain(problem.message)}", highlight=False)
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
                      console=stderr(), transient=True) as bar:
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
        stderr().print(json.dumps(report, ensure_ascii=False), highlight=False, soft_wrap=True, markup=False)
    else:
        accuracy = f", exactitude {report['accuracy']:.1%} sur {report['judged']}" if report["judged"] else ""
        p50, p95 = report["latency_p50_ms"], report["latency_p95_ms"]
        latency = f", latence p50 {p50:.0f} ms / p95 {p95:.0f} ms" if p50 is not None else ""
        stderr().print(
            f"{report['questions']} question(s) : {report['answered']} répondue(s), {report['abstained']} "
            f"abstention(s), {report['errors']} erreur(s), {report['skipped']} déjà faite(s){accuracy}{latency}, "
            f"{report['seconds']} s ({report['questions_per_second'] or 0} q/s)",
            highlight=False, markup=False,
        )
    if report["errors"]:
        raise typer.Exit(1)
