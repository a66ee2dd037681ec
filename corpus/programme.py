"""Curated programme records: loading every file with per-record errors, and rendering them as indexable « fiches ».

Each YAML file under ``corpus/programme/`` holds a list of records (one entity each).
A record that fails validation is reported with its file, id and field; the others load.
The schema is :mod:`corpus.records`, the rendering :mod:`corpus.fiches`.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from corpus import safeyaml
from corpus.documents import Document, Problem
from corpus.errors import CorpusError
from corpus.fiches import render
from corpus.records import Record
from corpus.safeyaml import CorpusLimits


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


def several_valued(records: list[Record]) -> list[tuple[str, str, int]]:
    """(record id, field, number of values) for every fact that carries several values."""
    return [(r.id, f.field, len(f.values)) for r in records for f in r.facts if f.several]


def load_programme(folder: Path, limits: CorpusLimits = CorpusLimits()) -> tuple[list[Document], list[Problem]]:
    """Load, validate and render every programme record as an indexable document."""
    records, problems = load_records(folder, limits)
    by_id = {r.id: r for r in records}
    return [render(r, by_id) for r in records], problems
