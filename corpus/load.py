"""The whole corpus: source documents plus rendered programme records."""

from __future__ import annotations

from pathlib import Path

from corpus.documents import Document, Problem, load_documents
from corpus.errors import CorpusError
from corpus.programme import load_programme
from corpus.safeyaml import CorpusLimits


def load_corpus(sources_dir: Path, programme_dir: Path,
                limits: CorpusLimits = CorpusLimits()) -> tuple[list[Document], list[Problem]]:
    """Load every document and record; what cannot be read is returned as a problem, not raised.

    Raises:
        CorpusError: a folder is missing, or nothing at all could be loaded.
    """
    documents, problems = load_documents(sources_dir, limits)
    records, record_problems = load_programme(programme_dir, limits)
    problems += record_problems
    ids = {d.doc_id for d in documents}
    for record in records:
        if record.doc_id in ids:
            problems.append(Problem(record.doc_id, "identifiant déjà utilisé par un document source", blocking=True))
        else:
            documents.append(record)
    if not documents:
        raise CorpusError(
            f"Aucun document lisible dans {sources_dir} ni {programme_dir}"
            + (f" ({len(problems)} problème(s), voir assistant corpus check)" if problems else "")
        )
    return documents, problems
