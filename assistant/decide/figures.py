"""The figure a sentence gives for a question: an amount in euros, a count of the thing asked about, a share.

Two sources that answer « combien de doctorants… » or « quel budget… » with different figures disagree,
and the answer must show both; two that give the same figure corroborate each other. Comparing them needs
the figure as a number: « 73 M€ » and « 73 millions d'euros » are the same amount, « plus de 150
doctorants » and « 65 doctorantes et doctorants formés » are two counts of the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.rules import DEFAULT
from index.text import analyze

_NUMBER = r"\d{1,3}(?:[   .]\d{3})+(?:,\d+)?|\d+(?:[,.]\d+)?"
_MONEY = re.compile(
    rf"({_NUMBER})\s*(Md€|M€|k€|€|milliards? d['’]euros|millions? d['’]euros|milliers d['’]euros|euros?)",
    re.IGNORECASE,
)
_SCALE = {"md€": 1e9, "milliard": 1e9, "m€": 1e6, "million": 1e6, "k€": 1e3, "millier": 1e3}
_SHARE = re.compile(rf"({_NUMBER})\s*(?:%|pour ?cent\b)", re.IGNORECASE)
_WORD_NUMBERS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
                 "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "quinze": 15, "vingt": 20, "trente": 30,
                 "quarante": 40, "cinquante": 50, "cent": 100, "mille": 1000, "dizaine": 10, "vingtaine": 20,
                 "trentaine": 30, "quarantaine": 40, "cinquantaine": 50, "centaine": 100}
_COUNT = re.compile(rf"\b({_NUMBER}|{'|'.join(_WORD_NUMBERS)})\b((?:\s+[\w’'-]+){{1,4}})", re.IGNORECASE)


@dataclass(frozen=True)
class Figure:
    """A figure and what it counts (the analysed term of the counted noun, for counts)."""

    value: float
    kind: str
    counted: str | None = None

    def agrees(self, other: "Figure", tolerance: float = DEFAULT.figure_tolerance) -> bool:
        """Same kind, and values within ``tolerance`` of the larger (``answer.rules.figure_tolerance``)."""
        return self.kind == other.kind and abs(self.value - other.value) <= tolerance * max(self.value, other.value)


def _number(text: str) -> float:
    text = text.lower()
    if text in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[text])
    return float(re.sub(r"[   .](?=\d{3})", "", text).replace(",", "."))


def stated_figure(sentence: str, kind: str | None, counted: frozenset[str] = frozenset()) -> Figure | None:
    """The figure ``sentence`` gives for a question whose expected answer type is ``kind`` and which counts
    ``counted`` (the analysed terms of « combien de doctorants » : :attr:`assistant.query.parse.Query.counted`).

    Money: the first amount, in euros. Share: the first percentage. Number: the first number followed
    (within four words) by the noun the question counts (« combien de doctorants » → « 65 doctorantes »).
    Other kinds (dates, names) give None: they are not compared as figures.
    """
    if kind == "money":
        match = _MONEY.search(sentence)
        if not match:
            return None
        unit = match.group(2).lower()
        scale = next((v for k, v in _SCALE.items() if unit.startswith(k)), 1.0)
        return Figure(_number(match.group(1)) * scale, "money")
    if kind == "share":
        match = _SHARE.search(sentence)
        return Figure(_number(match.group(1)), "share") if match else None
    if kind in ("number", "count"):
        asked = counted
        for match in _COUNT.finditer(sentence):
            counted = [t for t in analyze(match.group(2)) if t in asked]
            if counted:
                return Figure(_number(match.group(1)), "number", counted[0])
    return None
