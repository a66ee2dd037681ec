"""The chat's messages as Gradio hands them over: their text (a string or a list of typed parts), the user's earlier
questions, the position a vote names, a question shown back, and the page's language."""

from __future__ import annotations

from ui.render import _unmd
from ui.texts import TEXTS

ECHO_CHARS = 200  # what is shown of a question that is refused


def lang_of(lang: str | None) -> str:
    """The page's language: one :data:`ui.texts.TEXTS` has, else French."""
    return lang if lang in TEXTS else "fr"


def user_questions(history: list) -> list[str]:
    """The user's earlier questions, oldest first, from Gradio's message history."""
    return [_unmd(message_text(m)) for m in history or [] if _role(m) == "user" and message_text(m).strip()]


def message_index(index) -> int | None:
    """The chat position a vote names (``LikeData.index``: a number, or a pair for a message's part)."""
    if isinstance(index, (list, tuple)) and index:
        index = index[0]
    return index if isinstance(index, int) and not isinstance(index, bool) else None


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
