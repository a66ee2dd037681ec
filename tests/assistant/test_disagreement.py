"""A document that gives another figure than a curated record is shown beside it, never silently preferred."""

import textwrap

import pytest

from assistant.compose.answer import verify_citations
from assistant.settings import CorpusSettings, IndexSettings

pytestmark = pytest.mark.slow

RECORD = """
- id: prog
  kind: programme
  name: PROG
  subject: Le programme PROG
  description: Un programme national de recherche sur l'apprentissage automatique, imaginaire.
  facts:
    - field: budget
      value: 73 millions d'euros sur six ans
      sources: [https://example.org/prog/budget]
    - field: launch_date
      value: mars 2024
      sources: [https://example.org/prog]
  sources: [https://example.org/prog]
"""
ARTICLE = """Un article sur PROG

Le programme PROG a été lancé en mars 2024 par le ministère.

Le programme PROG est doté de {amount} pour ses six années de recherche.

Il réunit des laboratoires de toute la France autour de l'apprentissage automatique.
"""


def build(tmp_path, clean_settings, amount):
    from assistant.app import build
    from assistant.indexing import build_index_from_settings

    (tmp_path / "src").mkdir()
    (tmp_path / "prog").mkdir()
    (tmp_path / "src" / "article.txt").write_text(ARTICLE.format(amount=amount), encoding="utf-8")
    (tmp_path / "prog" / "prog.yaml").write_text(textwrap.dedent(RECORD), encoding="utf-8")
    settings = clean_settings(corpus=CorpusSettings(sources_dir=tmp_path / "src", programme_dir=tmp_path / "prog"),
                              index=IndexSettings(dir=tmp_path / "index"))
    build_index_from_settings(settings)
    return build(settings)


def test_a_document_contradicting_a_record_on_an_amount_is_shown_beside_it(tmp_path, clean_settings):
    assistant = build(tmp_path, clean_settings, "5 euros")
    answer = assistant.ask("Quel est le budget du programme PROG ?")
    assert "73 millions" in answer.answer and "5 euros" in answer.answer
    assert answer.answer.startswith("Les sources donnent plusieurs valeurs")
    cited = {c.doc_id for c in answer.citations if c.n in (answer.disagreement or [])}
    assert cited == {"prog", "article"}
    assert "Selon example.org" in answer.answer  # whose figure each one is
    assert verify_citations(answer, {c.chunk_id: c.text for c in assistant.index.chunks}) == []


def test_a_document_giving_the_same_amount_corroborates_without_a_disagreement(tmp_path, clean_settings):
    assistant = build(tmp_path, clean_settings, "73 M€")
    answer = assistant.ask("Quel est le budget du programme PROG ?")
    assert answer.disagreement is None and not answer.answer.startswith("Les sources")
    assert {c.doc_id for c in answer.citations} == {"prog", "article"}
