"""The web chat's page: its layout (chat, sources panel, settings, votes, French or English, admin tab), the wiring
of its events to their handlers (ui/chat.py, ui/feedback.py, ui/admin.py), and :func:`launch`, which serves it with
the request guard in front and the OpenAI-compatible API (ui/api.py) on the same port. Thin: it calls the assistant;
it never builds an index itself except from the admin tab."""

from __future__ import annotations

import logging

import gradio as gr
from starlette.middleware import Middleware

from assistant.service import Assistant
from corpus.errors import AssistantError
from ui.admin import admin_tab
from ui.chat import chat_handler
from ui.feedback import FeedbackLog, vote_handler
from ui.gate import Gate
from ui.guard import RequestGuard, api_allowed, is_loopback, without_gradio_cors
from ui.messages import lang_of
from ui.render import render_sources
from ui.texts import TEXTS

log = logging.getLogger(__name__)

TITLE = TEXTS["fr"]["title"]
EXAMPLES = TEXTS["fr"]["examples_list"]
MODES = TEXTS["fr"]["modes"]


def create_app(assistant: Assistant, *, running: int = 2, max_queue: int | None = None) -> gr.Blocks:
    """Build the Gradio page for ``assistant`` (nothing is launched).

    ``running`` questions are answered at once; up to ``max_queue`` (default ``ui.max_queue``) wait; the
    next ones are told the service is busy."""
    settings = assistant.settings
    feedback = FeedbackLog(settings.ui.feedback_path)
    max_queue = max_queue or settings.ui.max_queue
    respond = chat_handler(assistant, Gate(running, max_queue))
    vote = vote_handler(feedback, settings.limits)

    def switch_language(lang: str):
        t = TEXTS[lang_of(lang)]
        return (gr.update(value=f"# {t['title']}\n\n{t['intro']}"), gr.update(label=t["chat"]),
                gr.update(placeholder=t["placeholder"]), gr.update(value=t["send"]), gr.update(value=t["new"]),
                gr.update(label=t["settings"]), gr.update(label=t["mode"], choices=t["modes"]),
                gr.update(label=t["top_k"]), gr.update(label=t["comment"]),
                gr.Dataset(samples=[[q] for q in t["examples_list"]], label=t["examples"]))

    t = TEXTS["fr"]
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        header = gr.Markdown(f"# {t['title']}\n\n{t['intro']}", elem_id="header")
        lang = gr.Radio([("Français", "fr"), ("English", "en")], value="fr", label="Langue · Language",
                        elem_id="language")
        with gr.Tabs():
            with gr.Tab(t["chat"], id="chat-tab"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(height=480, sanitize_html=True, label=t["chat"], elem_id="chatbot",
                                             feedback_options=("Like", "Dislike"), render_markdown=True,
                                             latex_delimiters=[],  # « $$…$$ » in a text is not math
                                             buttons=["copy", "copy_all"])  # no share button
                        with gr.Row():
                            box = gr.Textbox(placeholder=t["placeholder"], show_label=False, max_lines=6, scale=5,
                                             elem_id="question", autofocus=True)
                            send = gr.Button(t["send"], variant="primary", scale=1, elem_id="send")
                        new = gr.Button(t["new"], elem_id="new-conversation", size="sm")
                        examples = gr.Dataset(components=[box], samples=[[q] for q in t["examples_list"]],
                                              label=t["examples"], elem_id="examples")
                        with gr.Accordion(t["settings"], open=False, elem_id="settings") as settings_box:
                            mode = gr.Dropdown(t["modes"], value=settings.answer.mode, label=t["mode"],
                                               elem_id="mode")
                            top_k = gr.Slider(1, 20, value=settings.retrieval.top_k, step=1, label=t["top_k"],
                                              elem_id="top-k")
                        comment = gr.Textbox(label=t["comment"], max_lines=3, elem_id="comment")
                        vote_status = gr.Markdown(elem_id="vote-status")
                    with gr.Column(scale=2):
                        sources = gr.HTML(render_sources(None, {}, "fr"), elem_id="sources")
            if settings.ui.admin:
                with gr.Tab(t["admin"], id="admin-tab"):
                    admin_tab(assistant)
        answers = gr.State([])  # on the server: what this conversation was answered, for the votes
        votes = gr.State([])  # on the server: when this conversation's last votes were written

        inputs = [box, chatbot, answers, mode, top_k, lang]
        outputs = [chatbot, box, sources, answers]
        # Gradio lets every question in (up to its own queue size); the gate decides who runs and who is told
        # the service is busy.
        limit = running + max_queue + 1
        box.submit(respond, inputs, outputs, api_name="chat", concurrency_id="chat", concurrency_limit=limit)
        send.click(respond, inputs, outputs, api_name=False, concurrency_id="chat", concurrency_limit=limit)
        examples.click(lambda sample: sample[0], [examples], [box], api_name=False)
        new.click(lambda lang: ([], "", render_sources(None, {}, lang_of(lang)), [], "", ""), [lang],
                  [chatbot, box, sources, answers, comment, vote_status], api_name="new_conversation")
        chatbot.like(vote, [answers, votes, comment, lang], [vote_status, comment, votes], api_name=False)
        lang.change(switch_language, [lang], [header, chatbot, box, send, new, settings_box, mode, top_k, comment,
                                               examples], api_name=False)
    return demo


CSS = """
#sources-panel mark.quote { background: #fff3a3; padding: 0 2px; }
#sources-panel .source { border-left: 3px solid #3b6fb6; padding-left: 8px; margin-bottom: 12px; }
#sources-panel blockquote.passage { margin: 4px 0; font-size: 0.92em; }
#sources-panel table.fields td { padding: 1px 6px; vertical-align: top; font-size: 0.88em; }
#sources-panel .differs { background: #ffe2c6; border-radius: 3px; padding: 0 4px; font-size: 0.85em; }
"""


def launch(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True,
           max_queue: int | None = None):
    """Serve the chat on ``host:port`` (loopback by default; never a share link; login when configured).

    Raises:
        AssistantError: the admin tab is asked for on a non-loopback address without a login (anyone who
            reaches the page could rebuild the index)."""
    settings = assistant.settings
    ui = settings.ui
    auth = None
    if ui.username and ui.password is not None:
        auth = (ui.username, ui.password.get_secret_value())
    if ui.admin and auth is None:
        if not is_loopback(host):
            raise AssistantError(
                f"l'onglet d'administration (ui.admin = true) sur {host}, hors de la boucle locale, demande une "
                "identification : définissez ui.username et ui.password (ASSISTANT_UI__PASSWORD), ou servez sur "
                "127.0.0.1, ou désactivez ui.admin.")
        log.warning("onglet d'administration sans identification : quiconque atteint %s:%s peut reconstruire "
                    "l'index (définissez ui.username et ui.password)", host, port)
    max_queue = max_queue or ui.max_queue
    demo = create_app(assistant, max_queue=max_queue)
    demo.queue(max_size=4 * max_queue + 16, default_concurrency_limit=2)
    guard = Middleware(RequestGuard, uploads=ui.max_upload_bytes > 0,
                       login_attempts=settings.limits.login_attempts_per_minute if auth else None,
                       max_body=settings.limits.request_bytes)
    auth_message = None
    if auth:
        auth_message = (f"Après {settings.limits.login_attempts_per_minute} essais manqués en une minute, "
                        "l'identification est suspendue pour cette adresse pendant une minute.")
    demo.launch(server_name=host, server_port=port, share=False, show_error=False, auth=auth,
                auth_message=auth_message, css=CSS, prevent_thread_lock=True, quiet=not block,
                max_file_size=ui.max_upload_bytes,
                # the guard in front of every route, and Gradio's CORS grants taken out (ui/guard.py)
                app_kwargs={"middleware": [guard], "lifespan": without_gradio_cors},
                allowed_paths=[], blocked_paths=[str(settings.index.dir)])
    if api_allowed(settings, host, logged_in=auth is not None):
        from ui.api import router

        demo.app.include_router(router(assistant, settings))  # /v1, on the chat's port, behind the same guard
    if block:
        demo.block_thread()
    return demo
