"""The ``assistant`` command: index, ask, batch, eval, serve, corpus. One module per group of commands; this one
holds the Typer application and ``main``.

Machine output (``--json``) goes to stdout; logs, progress and errors go to stderr.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from assistant.cli.console import TEARDOWN, exit_now, plain, stderr
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


def main():
    from assistant.settings import offline_environment

    offline_environment()
    try:
        app()
    except SystemExit as done:
        if TEARDOWN["skip"] and not done.code:
            exit_now()
        raise
    except AssistantError as exc:
        stderr().print(f"[bold red]Erreur :[/] {plain(exc)}", highlight=False)
        sys.exit(1)
    except OSError as exc:  # a path that is a file, a port in use…: the system's own words, on one line
        stderr().print(f"[bold red]Erreur système :[/] {plain(exc)}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


# the commands register themselves on the applications above
from assistant.cli import answering, corpus, evaluation, indexing, serving  # noqa: E402, F401
