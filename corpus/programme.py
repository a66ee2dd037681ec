"""Curated programme records: schema, loading with per-record errors, and rendering as « fiches ».

Each YAML file under ``corpus/programme/`` holds a list of records (one entity each).
A record that fails validation is reported with its file, id and field; the others load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from corpus.documents import Document, Problem
from corpus.errors import CorpusError

Kind = Literal[
    "programme", "project", "call", "centre", "infrastructure", "cluster", "institute",
    "strategy", "model", "organisation", "person", "initiative",
]

KIND_LABELS = {
    "programme": "programme", "project": "projet", "call": "appel à projets", "centre": "centre",
    "infrastructure": "infrastructure", "cluster": "cluster IA", "institute": "institut",
    "strategy": "stratégie", "model": "modèle", "organisation": "organisation",
    "person": "personne", "initiative": "initiative",
}

# French labels of the usual fact fields; other fields are shown with their key humanised.
FIELD_LABELS = {
    "launch_date": "date de lancement", "creation_date": "date de création", "end_date": "date de fin",
    "duration": "durée", "budget": "budget", "funding": "financement", "funder": "financeur",
    "operator": "opérateur", "copilots": "co-pilotes", "director": "direction", "head": "responsable",
    "coordinators": "coordination", "institutions": "établissements", "axis": "axe", "topic": "sujet",
    "objectives": "objectifs", "website": "site web", "location": "localisation", "city": "ville",
    "site": "site", "status": "statut", "members": "membres", "partners": "partenaires",
    "peak_performance": "puissance crête", "gpus": "GPU", "cpus": "CPU", "extensions": "extensions",
    "uses": "utilisations", "selection_date": "date de sélection", "lead_institution": "établissement porteur",
    "phase": "phase", "amount": "montant", "figures": "chiffres clés", "parameters": "paramètres",
    "languages": "langues", "license": "licence", "training": "entraînement", "mission": "mission",
    "installation_date": "date d'installation", "role": "fonction", "affiliation": "affiliation", "owner": "propriétaire", "projects": "projets",
    "access": "accès", "allocation": "allocation", "announcement": "annonce", "architecture": "architecture",
    "award": "distinction", "builder": "constructeur", "date": "date", "eligibility": "éligibilité",
    "governance": "gouvernance", "history": "historique", "infrastructure": "infrastructure",
    "keywords": "mots-clés", "name_origin": "origine du nom", "openness": "ouverture", "origin": "origine",
    "outcome": "résultat", "parent": "structure de rattachement", "predecessor": "prédécesseur",
    "ranking": "classement", "related": "voir aussi", "shareholding": "participation au capital",
    "sites": "sites", "speakers": "intervenants", "storage": "stockage", "structure": "structure",
    "suite": "suite", "support": "soutien", "events": "événements", "institutes": "instituts",
    # relations
    "programme": "programme", "lead": "porteur", "part_of": "fait partie de", "ai_strategy": "stratégie IA",
    "call": "appel à projets", "calls": "appels à projets", "coordinates": "coordonne",
    "coordinator": "coordinateur", "developer": "développeur", "directed": "dirigé par", "directs": "dirige",
    "followed_by": "suivi de", "founders": "fondateurs", "framework": "cadre", "funds": "finance",
    "institute": "institut", "laureates": "lauréats", "leads": "porte", "led_to": "a conduit à",
    "operates": "exploite", "operators": "opérateurs", "organisation": "organisation", "output": "production",
    "owns": "possède", "phases": "phases", "programmes": "programmes", "project": "projet",
    "related_call": "appel lié", "related_event": "événement lié", "related_exascale": "projet exascale lié",
    "related_national": "dispositif national lié", "research_programme": "programme de recherche",
    "shareholders": "actionnaires", "strategy": "stratégie", "successor": "successeur", "supports": "soutient",
    "units": "unités",
}


KEYWORD_FIELDS = {"city", "location", "site", "lead_institution", "acronym"}


class Fact(BaseModel):
    """One sourced fact about an entity."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    value: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    note: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _to_text(cls, value):
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        if isinstance(value, (int, float)):
            return str(value)
        return value

    @field_validator("sources")
    @classmethod
    def _urls(cls, sources):
        return [_check_url(s) for s in sources]


class Record(BaseModel):
    """One entity of the French AI research landscape."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: Kind
    name: str = Field(min_length=1)
    full_name: str | None = None
    aliases: list[str] = []
    description: str = Field(min_length=20)
    facts: list[Fact] = []
    relations: dict[str, str | list[str]] = {}
    sources: list[str] = Field(min_length=1)

    @field_validator("sources")
    @classmethod
    def _urls(cls, sources):
        return [_check_url(s) for s in sources]

    def relation_ids(self) -> list[tuple[str, str]]:
        pairs = []
        for name, target in self.relations.items():
            for one in [target] if isinstance(target, str) else target:
                pairs.append((name, one))
        return pairs

    @property
    def title(self) -> str:
        return f"{self.name} ({self.full_name})" if self.full_name and self.full_name != self.name else self.name


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or " " in url:
        raise ValueError(f"URL attendue, reçu {url!r}")
    return url


def load_records(folder: Path) -> tuple[list[Record], list[Problem]]:
    """Load and validate every record under ``folder``.

    Returns the valid records and the problems found (bad YAML, schema errors, duplicate ids
    or aliases, relations to unknown ids). A record with a dangling relation is kept without it.

    Raises:
        CorpusError: ``folder`` does not exist.
    """
    if not folder.is_dir():
        raise CorpusError(f"Dossier des données de programme introuvable : {folder}")
    records: list[Record] = []
    problems: list[Problem] = []
    origin: dict[str, str] = {}
    for path in sorted(folder.glob("*.y*ml")):
        name = path.name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
                problems.append(Problem(where, f"identifiant en double (déjà dans {origin[record.id]})"))
                continue
            origin[record.id] = name
            records.append(record)
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


def label(field_name: str) -> str:
    return FIELD_LABELS.get(field_name, field_name.replace("_", " "))


def render(record: Record, names: dict[str, str]) -> Document:
    """Render a record as a French « fiche »: one self-contained line per fact.

    Args:
        record: The record.
        names: Display names of all records by id, for relations.

    Returns:
        A document whose metadata maps each fact line to its field (for citations).
    """
    lines: list[tuple[str, str]] = [(record.title, "")]
    line_sources: dict[str, str] = {}
    kind = KIND_LABELS[record.kind]
    header = f"{record.name} — type : {kind}."
    if record.aliases:
        header += f" Autres noms : {', '.join(record.aliases)}."
    lines.append((header, "kind"))
    lines.append((" ".join(record.description.split()), "description"))
    for fact in record.facts:
        value = " ".join(fact.value.split())
        line = f"{record.name} — {label(fact.field)} : {value}"
        if fact.note:
            line += f" ({' '.join(fact.note.split())})"
        line = line if line.endswith((".", "!", "?")) else line + "."
        lines.append((line, fact.field))
        line_sources[line] = fact.sources[0]
    for name, target in record.relations.items():
        targets = [target] if isinstance(target, str) else target
        shown = ", ".join(names.get(t, t) for t in targets)
        lines.append((f"{record.name} — {label(name)} : {shown}.", f"relations.{name}"))
    text = "\n\n".join(line for line, _ in lines) + "\n"
    canonical = json.dumps(record.model_dump(), sort_keys=True, ensure_ascii=False)
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
            # What every line of the fiche is about, for matching a question to any of its lines.
            "keywords": " ".join([record.name, record.full_name or "", *record.aliases,
                                  *(f.value for f in record.facts if f.field in KEYWORD_FIELDS),
                                  *(names.get(t, t) for _, t in record.relation_ids())]),
            "fields": {line: field for line, field in lines[1:]},
            "line_sources": line_sources,
            "facts": [f.model_dump() for f in record.facts],
        },
    )


def load_programme(folder: Path) -> tuple[list[Document], list[Problem]]:
    """Load, validate and render every programme record as an indexable document."""
    records, problems = load_records(folder)
    names = {r.id: r.name for r in records}
    return [render(r, names) for r in records], problems
