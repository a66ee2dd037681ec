"""The schema of a curated programme record (one entity of the French AI research landscape) and its checks.

A record is written by a curator in ``corpus/programme/*.yaml``: pydantic validates each field, and the
validators below refuse text that speaks of our reading of the sources, or to the assistant, rather than of
the subject. Loading is in :mod:`corpus.programme`, rendering as a « fiche » in :mod:`corpus.fiches`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from corpus.fields import as_of_phrase, vocabulary
from corpus.injection import addresses_assistant
from corpus.text import fold

Kind = Literal[
    "programme", "project", "call", "centre", "infrastructure", "cluster", "institute",
    "strategy", "model", "organisation", "person", "initiative", "laboratory", "network", "training",
    "policy", "opinion", "event",
]


# Rendered text speaks of the subject, never of how the team read its sources: « copie lue », « page
# consultée », « non retrouvé », « n'a pas pu être lu », « déduit »… belong in a fact's ``review``.
# Matched on folded text (no accents, lower case).
RESEARCH_NOTE = re.compile(
    r"\b(?:copies? (?:lues?|consultees?)|(?:pages?|sites?|extraits?|versions?|sources?) (?:lus?|lues?|consulte(?:e|s|es)?)\b"
    r"|dans (?:la|les|l.) ?(?:copie|page|pages|extrait)s?\b|n.(?:a|ont) pas pu etre|non (?:retrouve|confirme)(?:e|s|es)?\b"
    r"|pas (?:ete|encore ete) (?:trouve|retrouve|confirme)|\bdedui(?:t|te|ts|tes)\b|tronque(?:e|s|es)?\b"
    r"|selon (?:notre|nos) (?:lecture|recherche)s?|\b(?:article|page|source)s? non datee?s?\b)"
)


def _no_research_note(text: str | None) -> str | None:
    if text and RESEARCH_NOTE.search(fold(text)):
        found = RESEARCH_NOTE.search(fold(text)).group(0)
        raise ValueError(f"parle de notre lecture des sources (« {found} ») : mettre cette note dans « review »")
    if text and (found := addresses_assistant(text)) is not None:
        raise ValueError(f"s'adresse à l'assistant (« {found} ») : une fiche décrit, elle ne donne pas de consignes")
    return text


def _as_text(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (int, float)):
        return str(value)
    return value


_AS_OF = r"^(?:19|20)\d\d(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?$"
_NUMBER = re.compile(r"\d+(?:[,.]\d+)?")


class Value(BaseModel):
    """One value of a fact, with its own sources and what distinguishes it from the fact's other values."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    text: str | None = None  # our own sentence, instead of the field's template
    as_of: str | None = Field(default=None, pattern=_AS_OF)  # when the value held or was published
    scope: str | None = None  # what it counts, or who states it

    @field_validator("value", "as_of", mode="before")
    @classmethod
    def _to_text(cls, value):
        return _as_text(value)

    @field_validator("sources")
    @classmethod
    def _urls(cls, sources):
        return [_check_url(s) for s in sources]

    @field_validator("value", "text", "scope")
    @classmethod
    def _plain(cls, text):
        return _no_research_note(text)

    @model_validator(mode="after")
    def _text_states_value(self):
        if self.text is not None:
            missing = [n for n in _NUMBER.findall(self.value) if n not in self.text]
            if missing:
                raise ValueError(f"le texte ne donne pas le(s) chiffre(s) {', '.join(missing)} de la valeur")
        return self

    @property
    def qualifier(self) -> str:
        """« selon Le Point, mars 2025 »: shown after the sentence."""
        return ", ".join(p for p in (self.scope, self.as_of and as_of_phrase(self.as_of)) if p)


class Fact(BaseModel):
    """One sourced fact about an entity: a value, or several values when sources disagree or count differently.

    Written either with ``value``/``sources`` (and optionally ``text``, ``as_of``, ``scope``) or with
    ``values``, a list of those. ``review`` is an editorial note: never rendered, indexed or shown.
    """

    model_config = ConfigDict(extra="forbid")

    field: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    value: str | None = None
    sources: list[str] | None = None
    text: str | None = None
    as_of: str | None = None
    scope: str | None = None
    values: list[Value] | None = None
    review: str | None = None

    @field_validator("value", "as_of", mode="before")
    @classmethod
    def _to_text(cls, value):
        return _as_text(value)

    @model_validator(mode="after")
    def _one_form(self):
        single = {k: getattr(self, k) for k in ("value", "sources", "text", "as_of", "scope")}
        if self.values is not None:
            if any(v is not None for v in single.values()):
                raise ValueError("soit value/sources, soit values, pas les deux")
            if len(self.values) < 2:
                raise ValueError("values doit donner au moins deux valeurs (sinon value/sources)")
        else:
            if self.value is None or not self.sources:
                raise ValueError("value et sources sont obligatoires (ou values)")
            self.values = [Value(**{k: v for k, v in single.items() if v is not None})]
            self.value, self.sources, self.text, self.as_of, self.scope = None, None, None, None, None
        return self

    @property
    def several(self) -> bool:
        return len(self.values) > 1


class Record(BaseModel):
    """One entity of the French AI research landscape."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: Kind
    name: str = Field(min_length=1)
    full_name: str | None = None
    subject: str | None = None  # how a sentence starting with it names it: « Le PEPR IA »
    gender: Literal["m", "f"] | None = None
    aliases: list[str] = []
    description: str = Field(min_length=20)
    facts: list[Fact] = []
    relations: dict[str, str | list[str]] = {}
    sources: list[str] = Field(min_length=1)

    @field_validator("sources")
    @classmethod
    def _urls(cls, sources):
        return [_check_url(s) for s in sources]

    @field_validator("name", "full_name", "subject", "description")
    @classmethod
    def _plain(cls, text):
        return _no_research_note(text)

    @field_validator("subject")
    @classmethod
    def _singular(cls, subject):
        if subject and re.match(r"(?i)(les|des|ces) ", subject):
            raise ValueError("les modèles de phrase sont au singulier : donner un sujet singulier "
                             "(« L'offre d'écoles thématiques du CNRS » plutôt que « Les écoles thématiques »)")
        return subject

    @field_validator("aliases")
    @classmethod
    def _plain_aliases(cls, aliases):
        return [_no_research_note(a) for a in aliases]

    @field_validator("facts")
    @classmethod
    def _templated(cls, facts):
        known = vocabulary().facts
        for fact in facts:
            if fact.field not in known and any(v.text is None for v in fact.values):
                raise ValueError(f"le champ « {fact.field} » n'a pas de modèle de phrase dans corpus/fields.yaml :"
                                 " l'y ajouter, ou écrire la phrase dans « text »")
        return facts

    @field_validator("relations")
    @classmethod
    def _known_relations(cls, relations):
        unknown = sorted(set(relations) - set(vocabulary().relations))
        if unknown:
            raise ValueError(f"relation(s) sans modèle de phrase dans corpus/fields.yaml : {', '.join(unknown)}")
        return relations

    def relation_ids(self) -> list[tuple[str, str]]:
        pairs = []
        for name, target in self.relations.items():
            for one in [target] if isinstance(target, str) else target:
                pairs.append((name, one))
        return pairs

    @property
    def title(self) -> str:
        return f"{self.name} ({self.full_name})" if self.full_name and self.full_name != self.name else self.name

    @property
    def sentence_subject(self) -> str:
        return self.subject or self.name

    @property
    def feminine(self) -> bool:
        return self.gender == "f" if self.gender else bool(re.match(r"(?i)la ", self.sentence_subject))


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or " " in url:
        raise ValueError(f"URL attendue, reçu {url!r}")
    return url
