from pathlib import Path

import pytest

import corpus
from corpus.documents import load_documents
from corpus.errors import CorpusError

SEED = Path("/work/shared/seeds/000_c5c19c14cd75e8c8.txt")


def test_seed_article_is_kept_unchanged_with_its_metadata():
    documents, problems = load_documents(corpus.SOURCES_DIR)
    assert problems == []
    (article,) = documents
    assert article.doc_id == "gazette-cnrs-ia-en-action"
    assert article.title == "Intelligence artificielle : le CNRS en action !"
    assert article.metadata["publisher"] == "La Gazette du Laboratoire"
    assert "https://www.pepr-ia.fr" in article.metadata["links"]
    raw = (corpus.SOURCES_DIR / "000_c5c19c14cd75e8c8.txt").read_bytes()
    assert article.text.encode("utf-8") == raw
    if SEED.exists():  # the user's original, when the shared folder is there
        assert raw == SEED.read_bytes()


def test_ids_and_hashes_are_stable_and_follow_content(tmp_path):
    (tmp_path / "a.md").write_text("# Titre A\n\nLe CNRS agit.\n", encoding="utf-8")
    first, _ = load_documents(tmp_path)
    second, _ = load_documents(tmp_path)
    assert first[0].doc_id == second[0].doc_id == "a"
    assert first[0].content_hash == second[0].content_hash
    (tmp_path / "a.md").write_text("# Titre A\n\nLe CNRS agit encore.\n", encoding="utf-8")
    third, _ = load_documents(tmp_path)
    assert third[0].content_hash != first[0].content_hash


def test_markdown_html_and_text_titles(tmp_path):
    (tmp_path / "note.md").write_text("Intro\n\n# Le PEPR IA\n\nTexte.\n", encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Titre de page</title><script>alert(1)</script></head>"
        "<body><h1>AISSAI</h1><p>Le centre &amp; ses missions.</p></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "plain.txt").write_text("Première ligne\n\nSuite.\n", encoding="utf-8")
    documents, problems = load_documents(tmp_path)
    titles = {d.doc_id: d.title for d in documents}
    assert problems == []
    assert titles == {"note": "Le PEPR IA", "page": "AISSAI", "plain": "Première ligne"}
    page = next(d for d in documents if d.doc_id == "page")
    assert "Le centre & ses missions." in page.text and "alert" not in page.text


def test_unreadable_files_are_named_and_the_rest_is_loaded(tmp_path):
    (tmp_path / "good.txt").write_text("Un texte lisible.\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Données en latin-1 : été".encode("latin-1"))
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "bad.meta.yaml").write_text("id: [unclosed", encoding="utf-8")
    (tmp_path / "bad.txt").write_text("Texte avec une fiche cassée.\n", encoding="utf-8")
    documents, problems = load_documents(tmp_path)
    assert [d.doc_id for d in documents] == ["good"]
    messages = {p.where: p.message for p in problems}
    assert "UTF-8" in messages["latin1.txt"]
    assert "vide" in messages["empty.md"]
    assert ".xlsx" in messages["data.xlsx"]
    assert "bad.meta.yaml" in messages["bad.txt"]


def test_missing_folder_is_a_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="introuvable"):
        load_documents(tmp_path / "nowhere")


def test_html_without_head_end_and_with_void_tags(tmp_path):
    (tmp_path / "p.html").write_text(
        "<!doctype html><html><head><meta charset=utf-8><title>T</title>"
        "<p>Le supercalculateur Jean Zay<br>est à Orsay.</p>", encoding="utf-8")
    documents, problems = load_documents(tmp_path)
    assert problems == []
    assert "Jean Zay" in documents[0].text and "Orsay" in documents[0].text


def test_sidecar_values_become_json_safe(tmp_path):
    import json

    (tmp_path / "a.txt").write_text("Titre\n\nLe CNRS agit.\n", encoding="utf-8")
    (tmp_path / "a.meta.yaml").write_text("date: 2024-01-01\n1: nombre\nauthor: X\n", encoding="utf-8")
    documents, problems = load_documents(tmp_path)
    assert problems == []
    assert documents[0].metadata["date"] == "2024-01-01"
    json.dumps(documents[0].metadata)


ZORGLUB = "Le laboratoire Zorglub du CNRS a été créé en 2019.\n\nIl étudie les réseaux de neurones frugaux.\n"


def indexed_sentences(document):
    from index.chunking import chunk_document

    return [s for chunk in chunk_document(document) for s in chunk.sentence_texts()]


def test_a_first_line_that_is_a_sentence_is_title_and_text_unless_a_sidecar_declares_it(tmp_path):
    """Issue 25, finding 5: the first line of a .txt without sidecar became its title only, never a passage."""
    from index.chunking import has_passages

    (tmp_path / "zorglub.txt").write_text(ZORGLUB, encoding="utf-8")
    (tmp_path / "one.txt").write_text(ZORGLUB.splitlines()[0] + "\n", encoding="utf-8")
    (tmp_path / "declared.txt").write_text(ZORGLUB, encoding="utf-8")
    (tmp_path / "declared.meta.yaml").write_text(f'title: "{ZORGLUB.splitlines()[0]}"\n', encoding="utf-8")
    (tmp_path / "heading.txt").write_text("Le laboratoire Zorglub\n\nIl a été créé en 2019.\n", encoding="utf-8")
    (tmp_path / "alone.txt").write_text("Rapport annuel\n", encoding="utf-8")
    (tmp_path / "long.txt").write_text("Selon " + "M. Dupont et " * 1000 + "fin.", encoding="utf-8")
    documents, problems = load_documents(tmp_path)
    docs = {d.doc_id: d for d in documents}
    assert problems == [] and docs["zorglub"].title == "Le laboratoire Zorglub du CNRS a été créé en 2019."
    assert indexed_sentences(docs["zorglub"]) == ["Le laboratoire Zorglub du CNRS a été créé en 2019.",
                                                  "Il étudie les réseaux de neurones frugaux."]
    assert indexed_sentences(docs["one"]) == ["Le laboratoire Zorglub du CNRS a été créé en 2019."]
    # a title the sidecar declares, or a first line that reads as a heading, stays out of the passages, as before
    assert indexed_sentences(docs["declared"]) == ["Il étudie les réseaux de neurones frugaux."]
    assert indexed_sentences(docs["heading"]) == ["Il a été créé en 2019."]
    assert not has_passages(docs["alone"]) and indexed_sentences(docs["alone"]) == []
    assert all(has_passages(docs[i]) for i in ("zorglub", "one", "declared", "heading"))
    # a title found in the text is short; the long line it was cut from is text
    assert docs["long"].title.startswith("Selon M. Dupont et") and len(docs["long"].title) <= 122
    assert indexed_sentences(docs["long"]) == [docs["long"].text]
    # the seed article's sidecar declares its title: its first line is still not a passage
    (seed,), _ = load_documents(corpus.SOURCES_DIR)
    assert seed.title_declared and indexed_sentences(seed)[0].startswith("Dans un contexte de compétition")
