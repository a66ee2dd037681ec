"""Which record fields a question's wording points to (« Quand AISSAI a-t-il été créé ? » → creation_date).

The cues themselves are data, next to the record schema: ``corpus/question_cues.yaml``; the date fields are those
flagged ``date: true`` in ``corpus/fields.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from assistant.query.kinds import MANNER, asking_part
from corpus.errors import CorpusError
from index.text import fold

CUES_FILE = Path(__file__).resolve().parents[2] / "corpus" / "question_cues.yaml"


@dataclass(frozen=True)
class Cues:
    """The cues of ``corpus/question_cues.yaml``: (compiled pattern, fields) pairs, the date fields, the aliases."""

    cues: tuple[tuple[re.Pattern, frozenset[str]], ...]
    dates: frozenset[str]
    same_as: dict[str, str]


@lru_cache(maxsize=1)
def cues() -> Cues:
    """Read once; a malformed file is an error of the corpus (its path and problem named)."""
    from corpus.fields import vocabulary

    dates = frozenset(name for name, t in vocabulary().facts.items() if t.date)
    try:
        data = yaml.safe_load(CUES_FILE.read_text(encoding="utf-8"))
        pairs = tuple((re.compile(c["pattern"]), dates if c["fields"] == "dates" else frozenset(c["fields"]))
                      for c in data["cues"])
        same_as = {str(k): str(v) for k, v in data.get("same_as", {}).items()}
    except (OSError, KeyError, TypeError, re.error, yaml.YAMLError) as exc:
        raise CorpusError(f"{CUES_FILE} illisible : {' '.join(str(exc).split())}") from exc
    return Cues(pairs, dates, same_as)


def cued_field_groups(question: str) -> list[set[str]]:
    """One set of record fields per thing the question asks (« qui porte X et de quelle somme… » → two).

    An apposition (« X, directeur de Y, … ») cues nothing; a question asking why, how or in what frame something
    was launched or created does not ask its date.
    """
    question = asking_part(question)
    folded = fold(question)
    table = cues()
    groups = [set(names) for pattern, names in table.cues if pattern.search(folded)]
    if MANNER.match(question):
        groups = [g for g in groups if not g <= table.dates]
    return groups


def cued_fields(question: str) -> set[str]:
    """Record fields the question's wording points to (« Quand AISSAI a-t-il été créé ? » → creation_date)."""
    return set().union(*cued_field_groups(question))


def field_asked(field: str | None, fields: set[str]) -> bool:
    """``field`` is one the question points to; a question about when accepts any date field (« signature_date »)."""
    if not field or not fields:
        return False
    return field in fields or (field.endswith("_date") and "date" in fields)



def field_meaning(field: str | None) -> str | None:
    """What a field states, aliases resolved: « relations.operator » says what « operator » says."""
    if field is None:
        return None
    name = field.removeprefix("relations.")
    return cues().same_as.get(name, name)
