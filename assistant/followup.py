"""Offline condensation of follow-up questions: carry the subject of earlier turns into the query."""

from __future__ import annotations

import re

from index.text import analyze, words

# Words that point back to something named earlier (French and English).
ANAPHORA = frozenset(
    """
    il elle ils elles son sa ses leur leurs celui celle ceux celles-ci celui-ci ce cet cette ces y en lui
    dernier derniere dernière même it its their they them he she his her this that these those
    """.split()
)
_ENTITY = re.compile(r"\b(?:[A-Z][\w&’'-]*[A-Z0-9][\w&-]*|[A-ZÀ-Ý][a-zà-ÿ]+(?:[ -][A-ZÀ-Ý][a-zà-ÿ]+)*)\b")


def is_follow_up(question: str) -> bool:
    """A question that cannot stand alone: starts with « Et », points back, or names almost nothing."""
    tokens = words(question)
    if not tokens:
        return False
    if tokens[0] in {"et", "and", "also", "aussi", "puis"}:
        return True
    if any(t in ANAPHORA for t in tokens):
        return True
    return len(analyze(question)) <= 1


def condense(question: str, history: list[str] | None) -> str:
    """The retrieval query for ``question`` given the user's earlier questions (oldest first).

    A standalone question is returned unchanged. A follow-up gets the most recent earlier
    question that names a subject prepended, so « Et son budget ? » after « Qu'est-ce que le
    PEPR IA ? » is searched as « Qu'est-ce que le PEPR IA ? Et son budget ? ».
    """
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    for earlier in reversed([h.strip() for h in history if h and h.strip()]):
        if _ENTITY.search(earlier[1:]) or len(analyze(earlier)) >= 2:
            return f"{earlier} {question}"
    return question
