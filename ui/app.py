"""The web chat: streamed answers with their sources, conversation memory for follow-ups."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

import gradio as gr  # noqa: E402

from assistant.answer import Answer  # noqa: E402
from assistant.app import Assistant  # noqa: E402
from corpus.errors import AssistantError  # noqa: E402
from corpus.programme import label  # noqa: E402

log = logging.getLogger(__name__)

TITLE = "Le CNRS et l'intelligence artificielle — assistant sourcé"
DESCRIPTION = (
    "Posez vos questions sur l'action du CNRS en IA et sur la recherche française en IA (PEPR IA, AISSAI, "
    "Jean Zay, clusters IA…). Chaque réponse cite ses sources ; sans appui dans le corpus, l'assistant le dit."
)
EXAMPLES = [
    "Quel est le budget du PEPR IA ?",
    "Qui porte le projet SHARP ?",
    "Où est installé le supercalculateur Jean Zay ?",
    "Quels sont les clusters IA retenus en 2024 ?",
]


def user_questions(history: list) -> list[str]:
    """The user's earlier questions, oldest first, from Gradio's message history."""
    questions = []
    for message in history or []:
        role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
        content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
        if role == "user" and isinstance(content, str):
            questions.append(content)
    return questions


MODES = [("Extraits cités", "extractive"), ("Réponse rédigée, vérifiée", "generative"),
         ("Automatique (rédigée si elle concorde)", "auto")]


def render_answer(answer: Answer) -> str:
    """Markdown for the chat: a notice if the generated text was set aside, the answer, then each source."""
    notice = f"ℹ️ *{_md(answer.notice)}*\n\n" if answer.notice else ""
    if answer.abstained:
        return notice + answer.answer
    lines = [notice + answer.answer, "", "**Sources**"]
    for c in answer.citations:
        quote = " ".join(c.quote.split())
        where = f"[{_md(c.title)}]({c.source})" if c.source.startswith(("http://", "https://")) else _md(c.title)
        field = f" · {_md(field_label(c.field))}" if c.field else ""
        lines.append(f"{c.n}. {where}{field} — « {_md(quote)} »")
    return "\n".join(lines)


def field_label(field: str) -> str:
    """« budget », « coordination », « relations.programme » → « programme »: the fiche's own words."""
    return label(field.removeprefix("relations.")) if field not in ("kind", "description") else {
        "kind": "type", "description": "présentation"}[field]


def _md(text: str) -> str:
    """Escape what Markdown would interpret in corpus text."""
    for ch in "\\`*_[]<>":
        text = text.replace(ch, "\\" + ch)
    return text


DRAFT = "✍️ *Rédaction en cours — la réponse sera vérifiée contre les sources…*\n\n"


def respond_fn(assistant: Assistant):
    def respond(message: str, history: list, mode: str | None = None) -> Iterator[str]:
        answer = None
        draft = ""
        try:
            for event in assistant.ask_stream(message, history=user_questions(history), mode=mode or None):
                if isinstance(event, Answer):
                    answer = event
                else:  # the model's draft, shown as such until the checked answer replaces it
                    draft += event
                    yield DRAFT + _md(draft)
        except AssistantError as exc:  # invalid question, index or backend problem: the user can act on it
            yield f"⚠️ {exc}"
            return
        except Exception:  # the page must never show a traceback
            log.exception("échec de la réponse")
            yield "⚠️ Une erreur interne est survenue ; la question n'a pas pu être traitée. Réessayez."
            return
        text = render_answer(answer)
        if draft:
            yield text
            return
        words = text.split(" ")
        for end in range(6, len(words), 6):
            yield " ".join(words[:end])
        yield text

    return respond


def create_app(assistant: Assistant) -> gr.Blocks:
    """Build the Gradio page for ``assistant`` (nothing is launched)."""
    return gr.ChatInterface(
        fn=respond_fn(assistant),
        title=TITLE,
        description=DESCRIPTION,
        examples=[[q, assistant.settings.answer.mode] for q in EXAMPLES],
        cache_examples=False,
        api_name="chat",
        autofocus=True,
        chatbot=gr.Chatbot(height=520, sanitize_html=True, label="Conversation"),
        textbox=gr.Textbox(placeholder="Votre question…", submit_btn=True, max_lines=6),
        additional_inputs=[gr.Dropdown(MODES, value=assistant.settings.answer.mode, label="Mode de réponse")],
        additional_inputs_accordion=gr.Accordion("Réglages", open=False),
    )


def launch(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True,
           max_queue: int | None = None):
    """Serve the chat on ``host:port`` (loopback by default; never a share link)."""
    demo = create_app(assistant)
    demo.queue(max_size=max_queue or assistant.settings.ui.max_queue, default_concurrency_limit=2)
    demo.launch(server_name=host, server_port=port, share=False, show_error=False,
                prevent_thread_lock=not block, quiet=not block)
    return demo
