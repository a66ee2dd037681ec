"""The chat's admin tab: the index's status and an incremental rebuild that runs in the background while the chat
keeps answering (it switches to the new version at its next question)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import gradio as gr

from corpus.errors import AssistantError
from ui.render import _md


def admin_tab(assistant) -> None:
    """Lay out the admin tab's content (inside the current ``gr.Tab``) for ``assistant``: its index's status, and an
    incremental rebuild in the background; chat keeps answering meanwhile and switches to the new version at its
    next question."""
    from assistant.indexing import build_index_from_settings, describe_changes, index_status

    running = threading.Lock()

    def status() -> str:
        try:
            s = index_status(assistant.settings)
        except AssistantError as exc:
            return f"⚠️ {_md(str(exc))}"
        changes = s["changes"]
        changed = describe_changes(changes)
        counts = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
        return (f"**Version** {s['version']} ({s['built_at']})  \n**Embedder** {s['embedder']['id']}  \n"
                f"**Contenu** {counts}  \n**En service** {assistant.index.manifest.version}  \n"
                f"**Corpus** {'modifié depuis : ' + changed if changed else 'inchangé'}")

    def rebuild() -> Iterator[str]:
        if not running.acquire(blocking=False):
            yield "Une reconstruction est déjà en cours."
            return
        state = {"stage": "préparation", "done": 0, "total": 0, "error": None, "manifest": None}

        def progress(stage, done, total):
            state.update(stage=stage, done=done, total=total)

        def work():
            try:
                state["manifest"], _ = build_index_from_settings(assistant.settings, progress)
            except Exception as exc:  # reported on the page
                state["error"] = exc

        try:
            thread = threading.Thread(target=work, daemon=True)
            started = time.monotonic()
            thread.start()
            while thread.is_alive():
                yield f"⏳ {state['stage']} : {state['done']}/{state['total']} ({time.monotonic() - started:.0f} s)"
                thread.join(0.5)
            if state["error"] is not None:
                yield f"⚠️ Échec de la reconstruction : {_md(str(state['error']))} — l'index en service reste utilisé."
                return
            assistant.refresh()
            b = state["manifest"].build
            yield (f"✅ Version {state['manifest'].version} en service : {b['embedded']} texte(s) vectorisé(s), "
                   f"{b['reused']} réutilisé(s), {time.monotonic() - started:.1f} s.\n\n" + status())
        finally:
            running.release()

    view = gr.Markdown(status(), elem_id="admin-status")
    with gr.Row():
        refresh = gr.Button("Actualiser l'état", elem_id="admin-refresh")
        build = gr.Button("Reconstruire l'index (incrémental)", variant="primary", elem_id="admin-rebuild")
    log_view = gr.Markdown(elem_id="admin-progress")
    refresh.click(status, None, view, api_name="admin_status", concurrency_id="admin")
    build.click(rebuild, None, log_view, api_name="admin_rebuild", concurrency_id="admin")
