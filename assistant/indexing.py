"""Index administration from the settings: the corpus they point to, a new index version built from it (or the
plan of one), and the status of the version in service. The CLI's ``index`` and ``corpus`` commands and the chat's
admin panel call these; answering never does."""

from __future__ import annotations

from assistant.settings import Settings, offline_environment
from corpus.errors import CorpusError
from corpus.safeyaml import CorpusLimits
from index.build import current_version


def corpus_limits(settings: Settings) -> CorpusLimits:
    lim = settings.limits
    return CorpusLimits(yaml_bytes=lim.yaml_bytes, yaml_nodes=lim.yaml_nodes, document_bytes=lim.document_bytes)


def load_corpus_from_settings(settings: Settings, *, for_build: bool = False):
    """The corpus the settings point to, within their limits; for a build, a blocking problem (an id claimed
    twice) stops everything before anything is written.

    Raises:
        CorpusError: a folder is missing, nothing is readable, or (for a build) a blocking problem.
    """
    from corpus.documents import Problem
    from corpus.load import load_corpus
    from index.chunking import has_passages

    documents, problems = load_corpus(settings.corpus.sources_dir, settings.corpus.programme_dir,
                                      corpus_limits(settings))
    # A file read without error can still give nothing to search (a title alone, headings only): say so, or its
    # content silently never answers anything.
    problems += [Problem(d.metadata["path"], "aucun passage à indexer : le fichier ne contient que son titre ou des "
                                             "intertitres ; ajoutez-y des phrases ou retirez-le")
                 for d in documents if d.kind == "document" and not has_passages(d)]
    blocking = [p for p in problems if p.blocking]
    if for_build and blocking:
        raise CorpusError("Le corpus ne peut pas être indexé tel quel, l'index en service ne change pas : "
                          + " ; ".join(str(p) for p in blocking) + " (voir assistant corpus check)")
    return documents, problems


def build_index_from_settings(settings: Settings, progress=None, *, full: bool = False, confirmed: bool = False):
    """Load the corpus and build a new index version as the settings describe (incremental unless ``full``).

    Unless ``confirmed``, a build that would embed more than ``limits.build_texts`` texts is refused first.
    """
    from assistant.app import settings_embedder, store_config
    from index.build import build_index

    offline_environment()
    documents, problems = load_corpus_from_settings(settings, for_build=True)
    embedder = settings_embedder(settings)
    manifest = build_index(
        settings.index.dir, documents, embedder, backend=settings.index.embedder,
        chunk_chars=settings.index.chunk_chars, chunk_overlap=settings.index.chunk_overlap,
        problems=problems, progress=progress, full=full,
        max_texts=None if confirmed else settings.limits.build_texts, store=store_config(settings),
    )
    return manifest, problems


def index_status(settings: Settings) -> dict:
    """The current index version, its counts and embedder, and what changed in the corpus since.

    Raises:
        IndexNotBuilt, IndexCorrupted: no readable current version.
    """
    from index.build import corpus_changes, damaged_files, read_manifest

    folder = current_version(settings.index.dir)
    manifest = read_manifest(folder)
    documents, _ = load_corpus_from_settings(settings)
    changes = corpus_changes(manifest, documents)
    return {"path": str(folder), "version": manifest.version, "built_at": manifest.built_at,
            "embedder": manifest.embedder, "store": manifest.store, "counts": manifest.counts,
            "problems": manifest.problems,
            "damaged_files": damaged_files(folder, manifest),
            "corpus_changed": any(changes.values()), "changes": changes}


def describe_changes(changes: dict[str, list[str]]) -> str:
    """« 1 ajouté(s), 2 modifié(s) » from :func:`index.build.corpus_changes`; empty when nothing changed."""
    return ", ".join(f"{len(ids)} {label}" for label, ids in (("ajouté(s)", changes["added"]),
                                                             ("modifié(s)", changes["changed"]),
                                                             ("retiré(s)", changes["removed"])) if ids)


def plan_index_build(settings: Settings, *, full: bool = False):
    """What ``assistant index build`` would do now, without writing anything.

    Raises:
        CorpusError: as the build would, after the same validation (a blocking problem stops both).
    """
    from assistant.app import settings_embedder, store_config
    from index.build import prepare_build

    offline_environment()
    documents, problems = load_corpus_from_settings(settings, for_build=True)
    embedder = settings_embedder(settings)
    prepared = prepare_build(settings.index.dir, documents, embedder_id=embedder.identity,
                             chunk_chars=settings.index.chunk_chars, chunk_overlap=settings.index.chunk_overlap,
                             full=full, store=store_config(settings))
    return prepared.plan, problems
