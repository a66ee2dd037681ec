"""How record facts read in French: field labels and sentence templates (``corpus/fields.yaml``), and the
bits of French grammar the templates need (« de » + article, « à » + article, agreement, lists, dates)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

FIELDS_FILE = Path(__file__).resolve().parent / "fields.yaml"


@dataclass(frozen=True)
class Template:
    label: str
    sentence: str
    date: bool = False


@dataclass(frozen=True)
class Vocabulary:
    facts: dict[str, Template]
    relations: dict[str, Template]
    kinds: dict[str, tuple[str, str]]  # kind → (French label, indefinite article)


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The templates of ``corpus/fields.yaml``, read once."""
    data = yaml.safe_load(FIELDS_FILE.read_text(encoding="utf-8"))
    return Vocabulary(
        facts={k: Template(**v) for k, v in data["facts"].items()},
        relations={k: Template(**v) for k, v in data["relations"].items()},
        kinds={k: (v["label"], v["article"]) for k, v in data["kinds"].items()},
    )


def label(field: str) -> str:
    """The French label of a fact field or relation (« relations.copilots » → « co-pilotes »)."""
    v = vocabulary()
    if field.startswith("relations."):
        template = v.relations.get(field.removeprefix("relations."))
    else:
        template = v.facts.get(field) or v.relations.get(field)
    return template.label if template else {"description": "définition", "aliases": "autres noms"}.get(
        field, field.removeprefix("relations.").replace("_", " "))


_ARTICLE = re.compile(r"^(le|la|les|l['’])\s*", re.IGNORECASE)
_VOWEL = re.compile(r"^[aeiouyàâäéèêëîïôöùûüœæ]", re.IGNORECASE)


def inner(subject: str) -> str:
    """The subject inside a sentence: « Le PEPR IA » → « le PEPR IA », « AISSAI » unchanged."""
    match = _ARTICLE.match(subject)
    return subject[0].lower() + subject[1:] if match else subject


def of(subject: str) -> str:
    """« de » + subject: « du PEPR IA », « des instituts », « de la stratégie », « d'AISSAI », « de Jean Zay »."""
    phrase = inner(subject)
    if phrase.startswith("le "):
        return "du " + phrase[3:]
    if phrase.startswith("les "):
        return "des " + phrase[4:]
    if _ARTICLE.match(phrase):
        return "de " + phrase
    return ("d'" if _VOWEL.match(phrase) else "de ") + phrase


def to(subject: str) -> str:
    """« à » + subject: « au CNRS », « aux instituts », « à la stratégie », « à l'INS2I », « à Inria »."""
    phrase = inner(subject)
    if phrase.startswith("le "):
        return "au " + phrase[3:]
    if phrase.startswith("les "):
        return "aux " + phrase[4:]
    return "à " + phrase


def enumerate_fr(items: list[str], joiner: str = "et") -> str:
    """« A », « A et B », « A, B et C »."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {joiner} {items[-1]}"


MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
_DAY = re.compile(r"^(?:\d{1,2}|1er)(?:\s*[-–]\s*\d{1,2})? (?:" + "|".join(MONTHS) + r")\b", re.IGNORECASE)
_MONTH_OR_YEAR = re.compile(r"^(?:(?:" + "|".join(MONTHS) + r")\b|(?:19|20)\d\d\b)", re.IGNORECASE)


def date_phrase(value: str) -> str:
    """A date value as it follows a verb: « 25 mars 2024 » → « le 25 mars 2024 », « 2022 » → « en 2022 »."""
    if _DAY.match(value):
        return "le " + value
    if _MONTH_OR_YEAR.match(value):
        return "en " + value
    return value


def as_of_phrase(as_of: str) -> str:
    """« 2025 », « 2025-03 » → « mars 2025 », « 2025-03-01 » → « 1er mars 2025 »."""
    parts = [int(p) for p in as_of.split("-")]
    if len(parts) == 1:
        return str(parts[0])
    month = MONTHS[parts[1] - 1]
    if len(parts) == 2:
        return f"{month} {parts[0]}"
    day = "1er" if parts[2] == 1 else str(parts[2])
    return f"{day} {month} {parts[0]}"


def fill(template: str, subject: str, feminine: bool, **values: str) -> str:
    """A template with its subject, agreement and values; the sentence starts with a capital and ends with a stop."""
    text = template.format(Sujet=subject[0].upper() + subject[1:], de=of(subject), a=to(subject),
                           e="e" if feminine else "", **values)
    text = " ".join(text.split())
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def with_qualifier(sentence: str, qualifier: str) -> str:
    """« X a été lancé le 22 janvier 2020. » + « selon Le Point » → « … 2020 (selon Le Point). »"""
    if not qualifier:
        return sentence
    body = sentence[:-1] if sentence.endswith(".") else sentence
    return f"{body} ({qualifier})."
