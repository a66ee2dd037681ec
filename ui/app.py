"""The web chat: streamed answers, a sources panel, follow-ups, feedback, settings, French or English,
and an admin tab. Thin: it calls the assistant; it never builds an index itself except from the admin tab."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

import gradio as gr  # noqa: E402

from assistant.answer import Answer  # noqa: E402
from assistant.app import Assistant  # noqa: E402
from corpus.errors import AssistantError  # noqa: E402
from corpus.fields import label  # noqa: E402

log = logging.getLogger(__name__)

TEXTS = {
    "fr": {
        "title": "Le CNRS et l'intelligence artificielle — assistant sourcé",
        "intro": ("Posez vos questions sur l'action du CNRS en IA et sur la recherche française en IA (PEPR IA, "
                  "AISSAI, Jean Zay, clusters IA…). Chaque réponse cite ses sources ; sans appui dans le corpus, "
                  "l'assistant le dit."),
        "chat": "Conversation", "placeholder": "Votre question…", "send": "Envoyer",
        "new": "Nouvelle conversation", "examples": "Pour commencer", "settings": "Réglages",
        "mode": "Mode de réponse", "top_k": "Passages consultés", "comment": "Commentaire sur la dernière réponse "
        "(facultatif, envoyé avec votre vote)", "sources": "Sources", "no_sources": "*Les sources de la dernière réponse "
        "s'afficheront ici.*", "admin": "Administration", "vote_saved": "Merci : avis enregistré.",
        "vote_failed": "Avis non enregistré : {error}", "draft": "✍️ *Rédaction en cours — la réponse sera vérifiée "
        "contre les sources…*", "passage": "Passage", "fields": "Champs de la fiche",
        "differs": "valeur différente des autres sources",
        "modes": [("Extraits cités", "extractive"), ("Réponse rédigée, vérifiée", "generative"),
                  ("Automatique (rédigée si elle concorde)", "auto")],
        "examples_list": ["Quel est le budget du PEPR IA ?", "Qui porte le projet SHARP ?",
                          "Où est installé le supercalculateur Jean Zay ?", "Quels sont les clusters IA retenus en 2024 ?",
                          "Combien de doctorants ont été formés dans le cadre du PEPR IA ?"],
        "internal": "⚠️ Une erreur interne est survenue ; la question n'a pas pu être traitée. Réessayez.",
        "busy": "⏳ L'assistant est très sollicité en ce moment : trop de questions attendent déjà. Réessayez dans "
                "un instant.",
    },
    "en": {
        "title": "CNRS and artificial intelligence — a sourced assistant",
        "intro": ("Ask about the CNRS's action in AI and French AI research (PEPR IA, AISSAI, Jean Zay, AI "
                  "clusters…). Every answer cites its sources; when the corpus does not support an answer, the "
                  "assistant says so."),
        "chat": "Conversation", "placeholder": "Your question…", "send": "Send", "new": "New conversation",
        "examples": "To start with", "settings": "Settings", "mode": "Answer mode", "top_k": "Passages consulted",
        "comment": "Comment on the last answer (optional, sent with your vote)", "sources": "Sources",
        "no_sources": "*The sources of the latest answer will show here.*", "admin": "Administration",
        "vote_saved": "Thank you: feedback saved.", "vote_failed": "Feedback not saved: {error}",
        "draft": "✍️ *Writing — the answer will be checked against the sources…*", "passage": "Passage",
        "fields": "Record fields", "differs": "a value other sources do not give",
        "modes": [("Quoted extracts", "extractive"), ("Written answer, checked", "generative"),
                  ("Automatic (written when it agrees)", "auto")],
        "examples_list": ["What is the budget of the PEPR IA?", "Who leads the SHARP project?",
                          "Where is the Jean Zay supercomputer installed?", "Which AI clusters were selected in 2024?",
                          "How many PhD students has the PEPR IA trained?"],
        "internal": "⚠️ An internal error occurred; the question could not be handled. Please try again.",
        "busy": "⏳ The assistant is very busy right now: too many questions are already waiting. Please try "
                "again in a moment.",
    },
}
TITLE = TEXTS["fr"]["title"]
EXAMPLES = TEXTS["fr"]["examples_list"]
MODES = TEXTS["fr"]["modes"]


def user_questions(history: list) -> list[str]:
    """The user's earlier questions, oldest first, from Gradio's message history."""
    return [_unmd(message_text(m)) for m in history or [] if _role(m) == "user" and message_text(m).strip()]


def _md(text: str) -> str:
    """Escape what Markdown or HTML would interpret in corpus or model text: no link, image, tag or script
    can come out of an answer (« <img src=x onerror=…> », « ![](http://…) » are shown as text)."""
    for ch in "\\`*_[]<>!|#":
        text = text.replace(ch, "\\" + ch)
    return text


_ESCAPED = re.compile(r"\\([\\`*_\[\]<>!|#])")


def _unmd(text: str) -> str:
    """The text :func:`_md` escaped (the user's own question, as shown in the chat)."""
    return _ESCAPED.sub(r"\1", text)


def field_label(field: str) -> str:
    """« budget », « coordination », « relations.programme » → « programme »: the fiche's own words."""
    return label(field)


def render_answer(answer: Answer) -> str:
    """Markdown for the chat: a notice if the generated text was set aside, then the answer, whose markers
    [n] link to the sources panel."""
    notice = f"ℹ️ *{_md(answer.notice)}*\n\n" if answer.notice else ""
    text = _md(answer.answer)
    if answer.disagreement:  # the sources give different values: each one is shown with its own source
        text = f"⚖️ {text}"
    if not answer.abstained:
        text = re.sub(r"\\\[(\d+)\\\]", lambda m: f"[\\[{m.group(1)}\\]](#source-{m.group(1)})", text)
    return notice + text


def _link(url: str, title: str) -> str:
    if url.startswith(("http://", "https://")):
        return (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
                f"{html.escape(title)}</a>")
    return html.escape(title)


def render_sources(answer: Answer | None, chunks: dict, lang: str = "fr") -> str:
    """HTML of the sources panel: per citation, its title and link, the quote highlighted in its passage,
    and for a programme record the record's fields. Everything from the corpus is escaped."""
    t = TEXTS[lang]
    if answer is None or not answer.citations:
        return f'<div id="sources-panel"><p>{html.escape(t["no_sources"].strip("*"))}</p></div>'
    parts = [f'<div id="sources-panel"><h3>{html.escape(t["sources"])}</h3>']
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        passage = chunk.text if chunk is not None else c.quote
        start = passage.find(c.quote)
        if start >= 0:
            shown = (html.escape(passage[:start]) + f'<mark class="quote">{html.escape(c.quote)}</mark>'
                     + html.escape(passage[start + len(c.quote):]))
        else:
            shown = f'<mark class="quote">{html.escape(c.quote)}</mark>'
        field = f" · {html.escape(field_label(c.field))}" if c.field else ""
        if answer.disagreement and c.n in answer.disagreement:
            field += f' · <span class="differs">{html.escape(t["differs"])}</span>'

        parts.append(f'<div class="source" id="source-{c.n}"><p><b>[{c.n}]</b> {_link(c.source, c.title)}{field}</p>'
                     f'<blockquote class="passage">{shown}</blockquote>')
        if chunk is not None and chunk.kind == "record" and chunk.metadata.get("fields"):
            values = chunk.metadata.get("values", {})
            rows = "".join(f"<tr><td>{html.escape(field_label(f))}</td><td>{html.escape(values.get(line, line))}"
                           f"</td></tr>" for line, f in chunk.metadata["fields"].items() if f != "description")
            parts.append(f'<details><summary>{html.escape(t["fields"])}</summary><table class="fields">{rows}'
                         f"</table></details>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


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


class Slots:
    """Questions answered at once (one per core) and a bounded line of waiting ones.

    Gradio's own full queue answers with an English error toast; this bound is checked inside the chat
    handler, so a question past it gets a clear « busy » message in the conversation instead.
    """

    def __init__(self, running: int, waiting: int):
        self._running = threading.BoundedSemaphore(running)
        self._lock = threading.Lock()
        self.waiting_limit = waiting
        self.waiting = 0

    def enter(self) -> bool:
        with self._lock:
            if self.waiting >= self.waiting_limit:
                return False
            self.waiting += 1
        self._running.acquire()
        with self._lock:
            self.waiting -= 1
        return True

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
        lang = _lang_of(lang)
        t = TEXTS[lang]
        history = list(history or [])
        answers = list(answers or [])
        earlier = user_questions(history)
        # the question is shown as the user typed it, as text: a tag or an image in it stays inert
        history = history + [{"role": "user", "content": _md(message or "")},
                             {"role": "assistant", "content": "…"}]
        yield history, "", gr.update(), answers
        if not slots.enter():
            history[-1] = {"role": "assistant", "content": t["busy"]}
            yield history, "", gr.update(), answers + [None]
            return
        try:
            yield from _answer(message, history, answers, earlier, mode, top_k, lang)
        finally:
            slots.leave()

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
            history[-1] = {"role": "assistant", "content": f"⚠️ {_md(str(exc))}"}
            yield history, "", gr.update(), answers + [None]
            return
        except Exception:  # the page must never show a traceback
            log.exception("échec de la réponse")
            history[-1] = {"role": "assistant", "content": t["internal"]}
            yield history, "", gr.update(), answers + [None]
            return
        text = render_answer(answer)
        answers = answers + [answer.to_dict()]
        sources = render_sources(answer, chunks(), lang)
        if not draft:  # extractive: stream it in a few pieces, as people read
            words = text.split(" ")
            for end in range(8, len(words), 8):
                history[-1] = {"role": "assistant", "content": " ".join(words[:end])}
                yield history, "", gr.update(), answers[:-1]
        history[-1] = {"role": "assistant", "content": text}
        yield history, "", sources, answers

    def vote(data: gr.LikeData, answers: list, history: list, comment: str, lang: str):
        t = TEXTS[_lang_of(lang)]
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        position = sum(1 for m in (history or [])[: index + 1] if _role(m) == "assistant") - 1
        answer = answers[position] if 0 <= position < len(answers or []) else None
        question = user_questions((history or [])[:index])[-1:] or [""]
        record = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "vote": "up" if data.liked is True or data.liked == "Like" else "down",
            "comment": (comment or "").strip()[:2000],
            "question": question[0],
            "answer": answer["answer"] if answer else message_text(history[index]) if history else "",
            "abstained": answer["abstained"] if answer else None,
            "mode": answer["mode"] if answer else None,
            "citations": [{k: c.get(k) for k in ("n", "doc_id", "chunk_id", "source", "quote")}
                          for c in (answer or {}).get("citations", [])],
        }
        try:
            feedback.append(record)
        except OSError as exc:
            return t["vote_failed"].format(error=exc), comment
        return t["vote_saved"], ""

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
                            top_k = gr.Slider(1, 10, value=settings.retrieval.top_k, step=1, label=t["top_k"],
                                              elem_id="top-k")
                        comment = gr.Textbox(label=t["comment"], max_lines=3, elem_id="comment")
                        vote_status = gr.Markdown(elem_id="vote-status")
                    with gr.Column(scale=2):
                        sources = gr.HTML(render_sources(None, {}, "fr"), elem_id="sources")
            if settings.ui.admin:
                with gr.Tab(t["admin"], id="admin-tab"):
                    _admin_tab(assistant)
        answers = gr.State([])

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
        chatbot.like(vote, [answers, chatbot, comment, lang], [vote_status, comment], api_name=False)
        lang.change(switch_language, [lang], [header, chatbot, box, send, new, settings_box, mode, top_k, comment,
                                               examples], api_name=False)
    return demo


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
    """Serve the chat on ``host:port`` (loopback by default; never a share link; login when configured)."""
    ui = assistant.settings.ui
    max_queue = max_queue or ui.max_queue
    demo = create_app(assistant, max_queue=max_queue)
    demo.queue(max_size=4 * max_queue + 16, default_concurrency_limit=2)
    auth = None
    if ui.username and ui.password is not None:
        auth = (ui.username, ui.password.get_secret_value())
    demo.launch(server_name=host, server_port=port, share=False, show_error=False, auth=auth, css=CSS,
                prevent_thread_lock=not block, quiet=not block, max_file_size=ui.max_upload_bytes,
                allowed_paths=[], blocked_paths=[str(assistant.settings.index.dir)])
    return demo
