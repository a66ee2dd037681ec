"""Offline condensation of follow-up questions: carry the subject of earlier turns into the query."""

from __future__ import annotations

import re

from index.text import analyze, analyze_words, words

# Words that point back to something named earlier (French and English). Only consulted when the
# question names no subject of its own: « Quand AISSAI a-t-il été créé ? » stands alone.
ANAPHORA = frozenset(
    """
    il elle ils elles son sa ses leur leurs celui celle ceux celles-ci celui-ci cet cette lui
    dernier derniere dernière it its their they them he she his her this these those
    """.split()
)
_ENTITY = re.compile(r"\b(?:[A-Z][\w&’'-]*[A-Z0-9][\w&-]*|[A-ZÀ-Ý][a-zà-ÿ]+(?:[ -][A-ZÀ-Ý][a-zà-ÿ]+)*)\b")
# « l'entraîner », « l'utiliser »: an elided object pronoun before an infinitive.
_OBJECT_PRONOUN = re.compile(
    r"\b[lL]['’]\w+(?:er|ir|re)\b|\b(?:en|y) (?:est|sont|font|fait|a|ont|compte\w*|travaill\w*|particip\w*)\b",
    re.IGNORECASE,
)
# Capitalised words that are not subjects.
_GENERIC = frozenset({"IA", "AI", "GPU", "GPUs", "CPU", "PF", "PFlop", "M€", "Md€", "France"})


def names_a_subject(question: str) -> bool:
    """True if the question names something itself: an acronym or a capitalised name past its first word."""
    body = question.strip()
    first = re.match(r"\W*\w+", body)
    rest = body[first.end():] if first else body
    return any(m.group(0) not in _GENERIC for m in _ENTITY.finditer(rest)) or bool(
        re.match(r"\W*[A-Z0-9]{2,}\b", body) and (first and first.group(0).strip() not in _GENERIC))


def is_follow_up(question: str) -> bool:
    """A question that cannot stand alone: starts with « Et », or names no subject and points back
    or says almost nothing (« Qui le dirige ? »)."""
    tokens = words(question)
    if not tokens:
        return False
    if tokens[0] in {"et", "and", "also", "aussi", "puis"}:
        return True
    if names_a_subject(question):
        return False
    return (any(t in ANAPHORA for t in tokens) or bool(_OBJECT_PRONOUN.search(question))
            or len(analyze_words(question)) <= 2)


# Words that can only point back to an earlier turn: personal pronouns and possessives. « cet », « cette » and
# « dernier » are left out: « cette année », « le dernier appel » point at the present, not at the conversation.
_POINTING = frozenset(
    """
    il elle ils elles son sa ses leur leurs celui celle ceux lui it its their they them he she his her
    """.split()
)


# « y a-t-il », « y avait-il », « il y a » (there is): an impersonal « il » and « y » that refer to nothing.
_IMPERSONAL = re.compile(r"\by\s+\w+(?:-t)?-il\b|\bil\s+y\s+\w+", re.IGNORECASE)
# « Qui le dirige ? », « Qui la finance ? »: an object pronoun right after « qui », the subject.
_SUBJECT_OBJECT = re.compile(r"\bqui\s+(le|la|les|lui|leur|l['’])\s*\w+", re.IGNORECASE)


def points_back(question: str) -> str | None:
    """The word by which a short ``question`` that names no subject refers to an earlier turn: « son » in « Et son
    budget ? », « le » in « Qui le dirige ? », « Et » in « Et en 2024 ? ». None for a question that stands
    alone: one that names its subject (« Quand les instituts 3IA ont-ils été labellisés ? », whose « ils » is the
    inversion's), or says little but refers to nothing (« Qu'est-ce que l'IA ? »)."""
    if names_a_subject(question) or len(analyze_words(question)) > 2:
        return None
    text = _IMPERSONAL.sub(" ", question)
    tokens = words(text)
    if not tokens:
        return None
    if tokens[0] in {"et", "and"}:
        return question.strip().split()[0]
    pointing = next((t for t in tokens if t in _POINTING), None)
    if pointing:
        return pointing
    if match := _SUBJECT_OBJECT.search(text):
        return match.group(1)
    match = _OBJECT_PRONOUN.search(text)
    return match.group(0) if match else None


def antecedent(history: list[str] | None) -> str | None:
    """The most recent earlier question that names a subject, which a follow-up's reference is resolved to."""
    for earlier in reversed([h.strip() for h in history or [] if h and h.strip()]):
        if _ENTITY.search(earlier[1:]) or len(analyze(earlier)) >= 2:
            return earlier
    return None


def condense(question: str, history: list[str] | None) -> str:
    """The retrieval query for ``question`` given the user's earlier questions (oldest first).

    A standalone question is returned unchanged. A follow-up gets the most recent earlier
    question that names a subject prepended, so « Et son budget ? » after « Qu'est-ce que le
    PEPR IA ? » is searched as « Qu'est-ce que le PEPR IA ? Et son budget ? ».
    """
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    earlier = antecedent(history)
    return f"{earlier} {question}" if earlier else question
