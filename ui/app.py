"""The web chat: streamed answers, a sources panel, follow-ups, feedback, settings, French or English,
and an admin tab. Thin: it calls the assistant; it never builds an index itself except from the admin tab."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

import gradio as gr  # noqa: E402

from assistant.compose.answer import Answer  # noqa: E402
from assistant.app import Assistant  # noqa: E402
from corpus.errors import AssistantError  # noqa: E402
from ui.guard import RequestGuard, is_loopback, without_gradio_cors  # noqa: E402
from ui.render import _md, _unmd, render_answer, render_sources  # noqa: E402
from ui.texts import TEXTS  # noqa: E402

log = logging.getLogger(__name__)

TITLE = TEXTS["fr"]["title"]
EXAMPLES = TEXTS["fr"]["examples_list"]
MODES = TEXTS["fr"]["modes"]


def user_questions(history: list) -> list[str]:
    """The user's earlier questions, oldest first, from Gradio's message history."""
    return [_unmd(message_text(m)) for m in history or [] if _role(m) == "user" and message_text(m).strip()]


# Every character Markdown (CommonMark, GFM as Gradio's « marked » reads it) or HTML could take as syntax,
# plus « : » and « @ », without which « https://… », « ftp://… » or « nom@domaine.fr » become links by
# themselves (GFM autolinks), « & » (entities) and « $ » (« $$…$$ » is LaTeX to Gradio).
class FeedbackLog:
    """Votes appended to a JSONL file, one line each, written whole and flushed (safe with several threads)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())


def _lang_of(lang: str | None) -> str:
    return lang if lang in TEXTS else "fr"


# How long a waiting question blocks at a time before handing control back to Gradio (which may stop it).
WAIT_STEP_S = 0.5


class Slots:
    """Questions answered at once (one per core) and a bounded line of waiting ones.

    Gradio's own full queue answers with an English error toast; this bound is checked inside the chat
    handler, so a question past it gets a clear « busy » message in the conversation instead.

    A place in line is waited for in steps (:meth:`wait`), the handler yielding between them: Gradio marks the
    question of a closed page as gone, but can only stop a generator between two of its steps, never inside one.
    """

    def __init__(self, running: int, waiting: int):
        self._running = threading.BoundedSemaphore(running)
        self._lock = threading.Lock()
        self.waiting_limit = waiting
        self.waiting = 0

    def queue(self) -> bool:
        """Take a place in line; False when the line is full."""
        with self._lock:
            if self.waiting >= self.waiting_limit:
                return False
            self.waiting += 1
            return True

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a running slot: True once held (out of the line), False if still
        in line."""
        if not self._running.acquire(timeout=timeout):
            return False
        with self._lock:
            self.waiting -= 1
        return True

    def give_up(self) -> None:
        """Leave the line without having run."""
        with self._lock:
            self.waiting -= 1

    def leave(self) -> None:
        self._running.release()


def create_app(assistant: Assistant, *, running: int = 2, max_queue: int | None = None) -> gr.Blocks:
    """Build the Gradio page for ``assistant`` (nothing is launched).

    ``running`` questions are answered at once; up to ``max_queue`` (default ``ui.max_queue``) wait; the
    next ones are told the service is busy."""
    settings = assistant.settings
    feedback = FeedbackLog(settings.ui.feedback_path)
    max_queue = max_queue or settings.ui.max_queue
    slots = Slots(running, max_queue)
    chunk_map = {}

    def chunks() -> dict:
        index = assistant.index
        if chunk_map.get("version") != index.manifest.version:
            chunk_map.clear()
            chunk_map.update({c.chunk_id: c for c in index.chunks}, version=index.manifest.version)
        return chunk_map

    def respond(message: str, history: list, answers: list, mode: str, top_k: float, lang: str):
        """Answer ``message``; ``answers`` (a gr.State, kept on the server) receives each answer given, with
        the question it answers and its message's position in the chat, for the votes to look up."""
        lang = _lang_of(lang)
        t = TEXTS[lang]
        history = list(history or [])
        answers = list(answers or [])
        earlier = user_questions(history)
        # the question is shown as the user typed it, as text: a tag or an image in it stays inert; one too
        # long to be answered is shown by its beginning only
        history = history + [{"role": "user", "content": _md(echo(message, settings.answer.max_question_chars))},
                             {"role": "assistant", "content": "…"}]
        yield history, "", gr.update(), answers
        if not slots.queue():
            history[-1] = {"role": "assistant", "content": t["busy"]}
            yield history, "", gr.update(), answers
            return
        running = False
        try:
            # Each step yields the unchanged page: if it was closed meanwhile, Gradio stops here and closes this
            # generator, so the question leaves the line and is never computed; the last yield, once a slot is
            # held, is that look again just before computing.
            while not (running := slots.wait(WAIT_STEP_S)):
                yield history, "", gr.update(), answers
            yield history, "", gr.update(), answers
            yield from _answer(message, history, answers, earlier, mode, top_k, lang)
        finally:
            if running:
                slots.leave()
            else:
                slots.give_up()

    def _answer(message, history, answers, earlier, mode, top_k, lang):
        t = TEXTS[lang]
        answer, draft = None, ""
        try:
            for event in assistant.ask_stream(message, history=earlier, mode=mode or None,
                                              top_k=int(top_k) if top_k else None):
                if isinstance(event, Answer):
                    answer = event
                else:  # the model's draft, shown as such until the checked answer replaces it
                    draft += event
                    history[-1] = {"role": "assistant", "content": f"{t['draft']}\n\n{_md(draft)}"}
                    yield history, "", gr.update(), answers
        except AssistantError as exc:  # invalid question, index or backend problem: the user can act on it
            history[-2] = {"role": "user", "content": _md(echo(message, ECHO_CHARS))}  # the refusal says why
            history[-1] = {"role": "assistant", "content": f"⚠️ {_md(str(exc))}"}
            yield history, "", gr.update(), answers
            return
        except Exception:  # the page must never show a traceback
            log.exception("échec de la réponse")
            history[-1] = {"role": "assistant", "content": t["internal"]}
            yield history, "", gr.update(), answers
            return
        text = render_answer(answer)
        answers = answers + [{"index": len(history) - 1, "question": message, "answer": answer.to_dict()}]
        sources = render_sources(answer, chunks(), lang)
        if not draft:  # extractive: stream it in a few pieces, as people read
            words = text.split(" ")
            for end in range(8, len(words), 8):
                history[-1] = {"role": "assistant", "content": " ".join(words[:end])}
                yield history, "", gr.update(), answers[:-1]
        history[-1] = {"role": "assistant", "content": text}
        yield history, "", sources, answers

    limits = settings.limits

    def vote(data: gr.LikeData, answers: list, votes: list, comment: str, lang: str):
        """Record a vote on one of the answers this conversation received.

        Everything but the vote and the comment comes from ``answers``, a gr.State the client cannot write:
        the chat history, the message text and the question the client sends are never read, so a forged
        request can neither invent a question or an answer nor make a line bigger than the comment limit.
        At most ``limits.feedback_per_minute`` votes a minute are written per conversation (``votes``, the
        times of the last ones, is a gr.State too)."""
        t = TEXTS[_lang_of(lang)]
        now = time.monotonic()
        votes = [v for v in votes or [] if isinstance(v, float) and now - v < 60.0]
        index = _message_index(getattr(data, "index", None))
        turn = next((a for a in answers or [] if isinstance(a, dict) and a.get("index") == index), None)
        if index is None or turn is None:
            return t["vote_unknown"], gr.update(), votes
        if len(votes) >= limits.feedback_per_minute:
            return t["vote_limited"].format(limit=limits.feedback_per_minute), gr.update(), votes
        answer = turn["answer"]
        liked = getattr(data, "liked", None)
        record = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "vote": "up" if liked is True or liked == "Like" else "down",
            "comment": (comment if isinstance(comment, str) else "").strip()[: limits.feedback_comment_chars],
            "question": turn["question"],
            "answer": answer["answer"],
            "abstained": answer["abstained"],
            "mode": answer["mode"],
            "citations": [{k: c.get(k) for k in ("n", "doc_id", "chunk_id", "source", "quote")}
                          for c in answer.get("citations", [])],
        }
        try:
            feedback.append(record)
        except OSError as exc:
            return t["vote_failed"].format(error=_md(str(exc))), gr.update(), votes
        return t["vote_saved"], "", votes + [now]

    def switch_language(lang: str):
        t = TEXTS[_lang_of(lang)]
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
                    _admin_tab(assistant)
        answers = gr.State([])  # on the server: what this conversation was answered, for the votes
        votes = gr.State([])  # on the server: when this conversation's last votes were written

        inputs = [box, chatbot, answers, mode, top_k, lang]
        outputs = [chatbot, box, sources, answers]
        # Gradio lets every question in (up to its own queue size); ``slots`` decides who runs and who is told
        # the service is busy.
        limit = running + max_queue + 1
        box.submit(respond, inputs, outputs, api_name="chat", concurrency_id="chat", concurrency_limit=limit)
        send.click(respond, inputs, outputs, api_name=False, concurrency_id="chat", concurrency_limit=limit)
        examples.click(lambda sample: sample[0], [examples], [box], api_name=False)
        new.click(lambda lang: ([], "", render_sources(None, {}, _lang_of(lang)), [], "", ""), [lang],
                  [chatbot, box, sources, answers, comment, vote_status], api_name="new_conversation")
        chatbot.like(vote, [answers, votes, comment, lang], [vote_status, comment, votes], api_name=False)
        lang.change(switch_language, [lang], [header, chatbot, box, send, new, settings_box, mode, top_k, comment,
                                               examples], api_name=False)
    return demo


def _message_index(index) -> int | None:
    """The chat position a vote names (``LikeData.index``: a number, or a pair for a message's part)."""
    if isinstance(index, (list, tuple)) and index:
        index = index[0]
    return index if isinstance(index, int) and not isinstance(index, bool) else None


ECHO_CHARS = 200  # what is shown of a question that is refused


def echo(message, limit: int = ECHO_CHARS) -> str:
    """The question as it is shown back in the chat: whole, or its first :data:`ECHO_CHARS` characters and
    « … » when it is longer than ``limit`` (a 1 MB question is refused, not sent back to the browser)."""
    if not isinstance(message, str):
        return ""
    return message if len(message) <= limit else message[:ECHO_CHARS].rstrip() + " …"


def _role(message) -> str | None:
    return message.get("role") if isinstance(message, dict) else getattr(message, "role", None)


def message_text(message) -> str:
    """A message's text, whether Gradio gives it as a string or as a list of typed parts."""
    content = message.get("content") if isinstance(message, dict) else getattr(message, "content", "")
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return " ".join(p.get("text", "") if isinstance(p, dict) else p if isinstance(p, str) else ""
                        for p in content).strip()
    return ""


def _admin_tab(assistant: Assistant) -> None:
    """Index status and an incremental rebuild that runs in the background; chat keeps answering meanwhile
    and switches to the new version at its next question."""
    from assistant.app import build_index_from_settings, describe_changes, index_status

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
    from starlette.middleware import Middleware

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


def api_allowed(settings, host: str, *, logged_in: bool = False) -> bool:
    """Whether the OpenAI-compatible API may be served: enabled, and with keys unless on loopback with no login
    (a chat behind a password must not be reachable through a keyless API)."""
    if not settings.api.enabled:
        return False
    if settings.api.keys:
        return True
    if not is_loopback(host) or logged_in:
        log.warning("API /v1 non servie : sur %s%s, elle demande api.keys (ASSISTANT_API__KEYS)", host,
                    " avec identification au chat" if logged_in else "")
        return False
    return True
