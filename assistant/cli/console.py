"""What every command shares: the stderr console, rich-markup escaping, one-line failures, the settings, and the
flag by which a command that has written everything skips the interpreter's slow teardown."""

from __future__ import annotations

import logging
import os
import sys

import typer
from pydantic import ValidationError

err = None  # rich console on stderr, created on first use


def stderr():
    global err
    if err is None:
        from rich.console import Console

        err = Console(stderr=True, soft_wrap=True)
    return err


def plain(text) -> str:
    """``text`` escaped for rich markup: corpus text, exception messages and model output are shown as they are.

    Unescaped, a record id « [/x] » crashed the command (MarkupError) after its work was done, and « [a-z0-9] »
    vanished from a schema message, read as a style tag.
    """
    from rich.markup import escape

    return escape(str(text))


def fail(message: str, code: int = 1):
    stderr().print(f"[bold red]Erreur :[/] {plain(message)}", highlight=False)
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


# Set by a command that has written everything it had to: the interpreter's teardown of llama-index's modules and
# of the ONNX session then only costs time (0.6 s of a 2.6 s `assistant ask`), and is skipped.
TEARDOWN = {"skip": False}


def exit_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)
