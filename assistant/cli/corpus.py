"""``assistant corpus check`` and ``assistant corpus show``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from assistant.cli import corpus_app
from assistant.cli.console import fail, load_settings


@corpus_app.command("check")
def corpus_check(json_out: Annotated[bool, typer.Option("--json", help="Sortie JSON sur stdout.")] = False):
    """Valider tout le corpus (documents et fiches), résumer son contenu et lister les faits à plusieurs valeurs.

    Exemple : assistant corpus check
    """
    from collections import Counter

    from assistant.indexing import load_corpus_from_settings

    settings = load_settings()
    documents, problems = load_corpus_from_settings(settings)
    kinds = Counter(d.metadata.get("record_kind", "document") for d in documents)
    several = [{"record": d.doc_id, "field": f["field"], "values": [v["value"] for v in f["values"]]}
               for d in documents if d.kind == "record" for f in d.metadata["facts"] if len(f["values"]) > 1]
    if json_out:
        print(json.dumps({"counts": dict(kinds), "several_values": several, "problems": [str(p) for p in problems]},
                         ensure_ascii=False))
    else:
        print(f"{len(documents)} entrées : " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        if several:
            print(f"{len(several)} fait(s) à plusieurs valeurs (les réponses les donnent toutes, chacune avec sa source) :")
            for item in several:
                print(f"  {item['record']} › {item['field']} : " + " | ".join(item["values"]))
        for problem in problems:
            print(f"  problème : {problem}")
    if problems:
        raise typer.Exit(1)


@corpus_app.command("show")
def corpus_show(ids: Annotated[list[str], typer.Argument(help="Identifiants de fiches ou de documents.")]):
    """Afficher le texte indexé de fiches ou de documents, phrase par phrase, tel que l'assistant le cite.

    Exemple : assistant corpus show pepr-ia centre-aissai
    """
    from assistant.indexing import load_corpus_from_settings

    settings = load_settings()
    documents, problems = load_corpus_from_settings(settings)
    by_id = {d.doc_id: d for d in documents}
    unknown = [i for i in ids if i not in by_id]
    for doc_id in ids:
        if doc_id in by_id:
            print(f"# {doc_id} — {by_id[doc_id].title}")
            _print_indexed(by_id[doc_id], settings)
    for problem in problems:
        if any(problem.where.endswith(f"› {i}") for i in ids):
            print(f"problème : {problem}")
    if unknown:
        fail(f"identifiant(s) inconnu(s) : {', '.join(unknown)} (voir assistant corpus check)")


def _print_indexed(document, settings) -> None:
    """The sentences the index holds for ``document``, once each, under their section: what can be quoted, and
    nothing else (a title line left out of the passages is not shown as text)."""
    from index.chunking import chunk_document

    chunks = chunk_document(document, settings.index.chunk_chars, settings.index.chunk_overlap)
    if not chunks:
        print("(aucun passage indexé)")
    section, shown = "", set()
    for chunk in chunks:
        if chunk.section != section:
            section = chunk.section
            print(f"## {section}")
        for a, b in chunk.sentences:
            if chunk.start + a not in shown:  # consecutive passages share a sentence
                shown.add(chunk.start + a)
                print(" ".join(chunk.text[a:b].split()))
