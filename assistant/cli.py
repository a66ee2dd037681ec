"""The ``assistant`` command: index, ask, serve, corpus check.

Machine output (``--json``) goes to stdout; logs, progress and errors go to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from corpus.errors import AssistantError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

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


def fail(message: str, code: int = 1):
    _stderr().print(f"[bold red]Erreur :[/] {message}", highlight=False)
    raise typer.Exit(code)


def load_settings():
    from assistant.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])} : {e['msg']}" for e in exc.errors()]
        fail("réglages invalides\n" + "\n".join(lines))
    except (OSError, ValueError) as exc:  # unreadable or malformed assistant.toml
        fail(f"fichier de réglages illisible : {exc}")


@app.callback()
def main_callback(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Journal détaillé sur stderr.")] = False,
):
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@index_app.command("build")
def index_build():
    """Construire l'index à partir du corpus (corpus/sources et corpus/programme).

    Exemple : assistant index build
    """
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from assistant.app import build_index_from_settings

    settings = load_settings()
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeRemainingColumn(), console=_stderr(), transient=True) as bar:
        tasks = {}

        def progress(stage, done, total):
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        manifest, problems = build_index_from_settings(settings, progress)
    for problem in problems:
        _stderr().print(f"[yellow]ignoré[/] {problem}", highlight=False)
    c = manifest.counts
    _stderr().print(
        f"Index {manifest.version} construit en {manifest.build_seconds:.1f} s : {c['documents']} document(s), "
        f"{c['records']} fiche(s), {c['chunks']} passages, {c['sentences']} phrases "
        f"({manifest.embedder['id']}) → {settings.index.dir}",
        highlight=False,
    )


@index_app.command("status")
def index_status(json_out: Annotated[bool, typer.Option("--json", help="Sortie JSON sur stdout.")] = False):
    """Afficher la version active de l'index et ses comptes.

    Exemple : assistant index status --json
    """
    from index.build import current_version
    from index.manifest import Manifest

    settings = load_settings()
    folder = current_version(settings.index.dir)
    manifest = Manifest.load(folder)
    status = {"path": str(folder), "version": manifest.version, "built_at": manifest.built_at,
              "embedder": manifest.embedder, "counts": manifest.counts, "problems": manifest.problems}
    if json_out:
        print(json.dumps(status, ensure_ascii=False))
        return
    print(f"Version   : {manifest.version} ({manifest.built_at})\nDossier   : {folder}\n"
          f"Embedder  : {manifest.embedder['id']} ({manifest.embedder['dimension']} dim.)\n"
          f"Contenu   : " + ", ".join(f"{k} {v}" for k, v in manifest.counts.items()))


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="La question, entre guillemets.")],
    json_out: Annotated[bool, typer.Option("--json", help="Un objet JSON sur stdout.")] = False,
    history: Annotated[Optional[list[str]], typer.Option(
        "--history", help="Question précédente de la conversation (répétable, la plus ancienne d'abord).")] = None,
):
    """Poser une question ; la réponse cite ses sources.

    Exemple : assistant ask "Qui porte le projet SHARP ?" --json
    """
    from assistant.app import build

    settings = load_settings()
    assistant = build(settings)
    answer = assistant.ask(question, history=history)
    if json_out:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    print(answer.answer)
    for c in answer.citations:
        print(f"\n[{c.n}] {c.title} — {c.source}\n    « {' '.join(c.quote.split())} »")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Adresse d'écoute (défaut : ui.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (défaut : ui.port, 7860).")] = None,
):
    """Servir le chat web.

    Exemple : assistant serve --port 7860
    """
    from assistant.app import build

    settings = load_settings()
    assistant = build(settings)
    try:
        from ui.app import launch
    except ImportError as exc:
        fail(f"l'interface web demande gradio : pip install -e '.[ui]' ({exc})")
    launch(assistant, host=host or settings.ui.host, port=port or settings.ui.port)


@corpus_app.command("check")
def corpus_check(json_out: Annotated[bool, typer.Option("--json", help="Sortie JSON sur stdout.")] = False):
    """Valider tout le corpus (documents et fiches) et résumer son contenu.

    Exemple : assistant corpus check
    """
    from collections import Counter

    from corpus.load import load_corpus

    settings = load_settings()
    documents, problems = load_corpus(settings.corpus.sources_dir, settings.corpus.programme_dir)
    kinds = Counter(d.metadata.get("record_kind", "document") for d in documents)
    if json_out:
        print(json.dumps({"counts": dict(kinds), "problems": [str(p) for p in problems]}, ensure_ascii=False))
    else:
        print(f"{len(documents)} entrées : " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        for problem in problems:
            print(f"  problème : {problem}")
    if problems:
        raise typer.Exit(1)


def main():
    try:
        app()
    except AssistantError as exc:
        _stderr().print(f"[bold red]Erreur :[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
