"""Curated programme records: schema, loading with per-record errors, and rendering as « fiches ».

Each YAML file under ``corpus/programme/`` holds a list of records (one entity each).
A record that fails validation is reported with its file, id and field; the others load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from corpus import safeyaml
from corpus.documents import Document, Problem
from corpus.errors import CorpusError
from corpus.injection import addresses_assistant
from corpus.safeyaml import CorpusLimits
from corpus.fields import (as_of_phrase, date_phrase, enumerate_fr, fill, inner, of, to, vocabulary,
                           with_qualifier)

Kind = Literal[
    "programme", "project", "call", "centre", "infrastructure", "cluster", "institute",
    "strategy", "model", "organisation", "person", "initiative", "laboratory", "network", "training",
    "policy", "opinion", "event",
]

# Fact fields whose values name places, institutions or acronyms: they count as context for every line.
KEYWORD_FIELDS = {"city", "location", "site", "lead_institution", "acronym"}

FACTS_HEADING = "Faits et sources"  # a heading (short, no stop): the chunker starts a new section after the definition

# A relation that states what a fact of this field already states (with its own source) is not repeated.
SAME_MEANING = {"lead": "lead_institution", "coordinator": "coordinators", "operators": "operator"}

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


def load_records(folder: Path, limits: CorpusLimits = CorpusLimits()) -> tuple[list[Record], list[Problem]]:
    """Load and validate every record under ``folder``.

    Returns the valid records and the problems found (bad or unsafe YAML, schema errors, duplicate ids or
    aliases, relations to unknown ids). A record with a dangling relation is kept without it. An id defined
    twice keeps neither definition and is a blocking problem: which one is genuine is for a curator to say.

    Raises:
        CorpusError: ``folder`` does not exist.
    """
    if not folder.is_dir():
        raise CorpusError(f"Dossier des données de programme introuvable : {folder}")
    records: list[Record] = []
    problems: list[Problem] = []
    origin: dict[str, str] = {}
    duplicated: set[str] = set()
    for path in sorted(folder.glob("*.y*ml")):
        name = path.name
        try:
            data = safeyaml.load(path.read_bytes(), limits)
        except UnicodeDecodeError:
            problems.append(Problem(name, "n'est pas encodé en UTF-8"))
            continue
        except yaml.YAMLError as exc:
            problems.append(Problem(name, f"YAML invalide : {exc}".replace("\n", " ")))
            continue
        if data is None:
            continue
        if not isinstance(data, list):
            problems.append(Problem(name, "le fichier doit contenir une liste d'enregistrements"))
            continue
        for position, item in enumerate(data, start=1):
            rid = item.get("id") if isinstance(item, dict) else None
            where = f"{name} › {rid or f'enregistrement n° {position}'}"
            try:
                record = Record.model_validate(item)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = ".".join(str(p) for p in err["loc"]) or "(racine)"
                    problems.append(Problem(where, f"champ {loc} : {err['msg']}"))
                continue
            if record.id in origin:
                problems.append(Problem(where, f"identifiant en double (déjà dans {origin[record.id]}) : aucune des "
                                               "deux fiches n'est indexée", blocking=True))
                duplicated.add(record.id)
                continue
            origin[record.id] = name
            records.append(record)
    records = [r for r in records if r.id not in duplicated]
    problems.extend(_check_aliases(records, origin))
    records = _drop_dangling(records, origin, problems)
    return records, problems


def _check_aliases(records: list[Record], origin: dict[str, str]) -> list[Problem]:
    owner: dict[str, str] = {}
    problems = []
    for record in records:
        for alias in {record.name, *record.aliases}:
            key = alias.casefold().strip()
            if key in owner and owner[key] != record.id:
                problems.append(
                    Problem(f"{origin[record.id]} › {record.id}",
                            f"champ aliases : {alias!r} désigne déjà {owner[key]}")
                )
            owner.setdefault(key, record.id)
    return problems


def _drop_dangling(records, origin, problems) -> list[Record]:
    known = {r.id for r in records}
    kept = []
    for record in records:
        dangling = [(n, t) for n, t in record.relation_ids() if t not in known]
        for name, target in dangling:
            problems.append(
                Problem(f"{origin[record.id]} › {record.id}",
                        f"champ relations.{name} : identifiant inconnu {target!r}")
            )
        if dangling:
            bad = {t for _, t in dangling}
            relations = {}
            for name, target in record.relations.items():
                if isinstance(target, str):
                    if target not in bad:
                        relations[name] = target
                else:
                    relations[name] = [t for t in target if t not in bad]
            record = record.model_copy(update={"relations": relations})
        kept.append(record)
    return kept


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _fact_sentence(record: Record, field: str, value: Value) -> str:
    """A fact value as a French sentence: its own ``text``, else its field's template; then its qualifier."""
    if value.text:
        sentence = " ".join(value.text.split())
        sentence = sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."
    else:
        template = vocabulary().facts[field]
        shown = " ".join(value.value.split())
        sentence = fill(template.sentence, record.sentence_subject, record.feminine,
                        value=date_phrase(shown) if template.date else shown)
    return with_qualifier(sentence, value.qualifier)


def _relation_sentence(record: Record, name: str, targets: list[Record]) -> str:
    subjects = [t.sentence_subject for t in targets]
    return fill(vocabulary().relations[name].sentence, record.sentence_subject, record.feminine,
                targets=enumerate_fr([inner(s) for s in subjects]), de_targets=enumerate_fr([of(s) for s in subjects]),
                a_targets=enumerate_fr([to(s) for s in subjects]), s="s" if len(targets) > 1 else "")


def render(record: Record, records: dict[str, Record]) -> Document:
    """Render a record as a French « fiche »: its definition, then one sentence per fact value and relation.

    Args:
        record: The record.
        records: All records by id, for the names of related records.

    Returns:
        A document whose metadata maps each line to its field, its own source URL, its value, and, for a
        fact with several values, the group of lines that state the same fact.
    """
    subject = record.sentence_subject
    lines: list[tuple[str, str]] = [(record.title, "")]
    line_sources: dict[str, str] = {}
    line_values: dict[str, str] = {}
    groups: dict[str, str] = {}
    lines.append((" ".join(record.description.split()), "description"))
    for position, fact in enumerate(record.facts):
        for value in fact.values:
            line = _fact_sentence(record, fact.field, value)
            lines.append((line, fact.field))
            line_sources[line] = value.sources[0]
            line_values[line] = " ".join(value.value.split())
            if fact.several:
                groups[line] = f"{fact.field}#{position}"
    stated = {f.field for f in record.facts}
    for name, target in record.relations.items():
        targets = [records[t] for t in ([target] if isinstance(target, str) else target) if t in records]
        if targets and SAME_MEANING.get(name, name) not in stated:  # a fact already says it, with its source
            lines.append((_relation_sentence(record, name, targets), f"relations.{name}"))
    if record.aliases:
        names = enumerate_fr([a for a in record.aliases], "ou")
        lines.append((fill("{Sujet} est aussi appelé{e} {names}.", subject, record.feminine, names=names), "aliases"))
    # The definition is a passage of its own: the facts that follow are found by what they say, not drowned in it.
    paragraphs = [line for line, _ in lines[:2]] + [FACTS_HEADING] + [line for line, _ in lines[2:]]
    text = "\n\n".join(paragraphs) + "\n"
    canonical = json.dumps(record.model_dump(exclude={"facts": {"__all__": {"review"}}}), sort_keys=True,
                           ensure_ascii=False)
    return Document(
        doc_id=record.id,
        title=record.title,
        text=text,
        source=record.sources[0],
        content_hash=hashlib.sha256((canonical + "|" + text).encode()).hexdigest(),
        kind="record",
        metadata={
            "record_kind": record.kind,
            "sources": record.sources,
            "names": [record.name, *([record.full_name] if record.full_name else []), *record.aliases],
            # What every line of the fiche is about, for matching a question to any of its lines.
            "keywords": " ".join([record.name, record.full_name or "", *record.aliases,
                                  *(v.value for f in record.facts if f.field in KEYWORD_FIELDS for v in f.values),
                                  *(records[t].name for _, t in record.relation_ids() if t in records)]),
            "fields": {line: field for line, field in lines[1:]},
            "line_sources": line_sources,
            "values": line_values,
            "groups": groups,
            "facts": [f.model_dump(exclude={"review"}, exclude_none=True) for f in record.facts],
        },
        title_declared=True,  # the first line renders the record's title: a heading, not a passage
    )


def several_valued(records: list[Record]) -> list[tuple[str, str, int]]:
    """(record id, field, number of values) for every fact that carries several values."""
    return [(r.id, f.field, len(f.values)) for r in records for f in r.facts if f.several]


def load_programme(folder: Path, limits: CorpusLimits = CorpusLimits()) -> tuple[list[Document], list[Problem]]:
    """Load, validate and render every programme record as an indexable document."""
    records, problems = load_records(folder, limits)
    by_id = {r.id: r for r in records}
    return [render(r, by_id) for r in records], problems
