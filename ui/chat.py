"""The chat's question handler: the question shown at once, a place taken in the gate's line (or the « busy »
message), the answer streamed (the model's draft, then the checked answer), and the sources panel."""

from __future__ import annotations

import logging

import gradio as gr

from assistant.compose.answer import Answer
from corpus.errors import AssistantError
from ui.gate import Gate
from ui.messages import ECHO_CHARS, echo, lang_of, user_questions
from ui.render import _md, render_answer, render_sources
from ui.texts import TEXTS

log = logging.getLogger(__name__)

# How long a waiting question blocks at a time before handing control back to Gradio (which may stop it).
WAIT_STEP_S = 0.5


def chat_handler(assistant, gate: Gate):
    """The handler answering the chat's questions with ``assistant`` (an :class:`assistant.service.Assistant`), as
    many at once as ``gate`` lets in.

    A place in line is waited for in steps (:meth:`ui.gate.Place.wait`), the handler yielding between them: Gradio
    marks the question of a closed page as gone, but can only stop a generator between two of its steps, never
    inside one. The « busy » message is given in the conversation (Gradio's own full queue answers with an English
    error toast)."""
    settings = assistant.settings
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
        lang = lang_of(lang)
        t = TEXTS[lang]
        history = list(history or [])
        answers = list(answers or [])
        earlier = user_questions(history)
        # the question is shown as the user typed it, as text: a tag or an image in it stays inert; one too
        # long to be answered is shown by its beginning only
        history = history + [{"role": "user", "content": _md(echo(message, settings.answer.max_question_chars))},
                             {"role": "assistant", "content": "…"}]
        yield history, "", gr.update(), answers
        if (place := gate.enter()) is None:
            history[-1] = {"role": "assistant", "content": t["busy"]}
            yield history, "", gr.update(), answers
            return
        try:
            # Each step yields the unchanged page: if it was closed meanwhile, Gradio stops here and closes this
            # generator, so the question leaves the line and is never computed; the last yield, once a slot is
            # held, is that look again just before computing.
            while not place.wait(WAIT_STEP_S):
                yield history, "", gr.update(), answers
            yield history, "", gr.update(), answers
            yield from _answer(message, history, answers, earlier, mode, top_k, lang)
        finally:
            place.leave()

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

    return respond
