"""``assistant serve``: the web chat and the OpenAI-compatible API, reached through their entry points (the assistant
never imports the ui package)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from assistant.cli import app
from assistant.cli.console import fail, load_settings, plain, stderr
from corpus.errors import AssistantError


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

    from assistant.app import build

    settings = load_settings()
    host = host or settings.ui.host
    try:  # 127.0.0.0/8, ::1 or « localhost »: only this machine reaches it
        loopback = host.strip("[] ").lower() == "localhost" or ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        loopback = False
    if not settings.ui.username and not loopback:
        stderr().print(
            f"[bold yellow]Attention :[/] le chat sera servi sur {plain(host)}, hors de la boucle locale, sans "
            "identification : toute personne qui atteint cette adresse peut l'utiliser. Définissez "
            "ui.username et ui.password (ASSISTANT_UI__PASSWORD) pour exiger une identification.", highlight=False)
    # The front ends register themselves (pyproject: [project.entry-points."assistant.frontends"], « web » and
    # « api »): the assistant never imports the ui package.
    if api_only:
        serve_api = _frontend("api", "aucune API installée", "l'API demande fastapi et uvicorn")
        try:  # refused (off loopback without api.keys) before the assistant is built
            serve_api(lambda: build(settings), settings, host, port or settings.ui.port)
        except AssistantError as exc:
            fail(str(exc))
        return
    assistant = build(settings)
    launch = _frontend("web", "aucune interface web installée", "l'interface web demande gradio")
    launch(assistant, host=host, port=port or settings.ui.port)


def _frontend(name: str, missing: str, needs: str):
    """The front end registered under ``name`` in the ``assistant.frontends`` entry points, loaded; a one-line
    failure naming the install command when it is absent or its packages are missing."""
    from importlib.metadata import entry_points

    found = [e for e in entry_points(group="assistant.frontends") if e.name == name]
    if not found:
        fail(f"{missing} : pip install -e '.[ui]'")
    try:
        return found[0].load()
    except ImportError as exc:
        fail(f"{needs} : pip install -e '.[ui]' ({exc})")
