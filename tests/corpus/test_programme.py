import textwrap

import corpus
from corpus.load import load_corpus
from corpus.programme import load_programme, load_records

GOOD = """
- id: prog
  kind: programme
  name: PROG
  aliases: [Programme test]
  description: Un programme de recherche imaginaire pour les tests.
  facts:
    - field: budget
      value: 10 millions d'euros
      sources: [https://example.org/prog]
  sources: [https://example.org/prog]
- id: proj
  kind: project
  name: PROJ
  description: Un projet imaginaire financé par le programme PROG.
  facts:
    - field: coordinators
      value: Marie Curie (CNRS)
      sources: [https://example.org/proj]
  relations: {programme: prog}
  sources: [https://example.org/proj]
"""


def write(folder, name, text):
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def test_real_programme_data_loads_without_problems():
    records, problems = load_records(corpus.PROGRAMME_DIR)
    assert problems == []
    assert len(records) >= 60
    assert all(r.sources for r in records)


def test_every_record_renders_to_a_fiche_with_its_fields():
    documents, problems = load_programme(corpus.PROGRAMME_DIR)
    assert problems == []
    for doc in documents:
        assert doc.kind == "record" and doc.text.startswith(doc.title)
        for line in doc.metadata["fields"]:
            assert line in doc.text


def test_schema_errors_name_file_record_and_field(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", """
    - id: sans-sources
      kind: project
      name: X
      description: Un enregistrement sans aucune source citée.
      sources: []
    - id: mauvais-type
      kind: vaisseau
      name: Y
      description: Un enregistrement dont le type est inconnu.
      sources: [https://example.org]
    - id: mauvaise-url
      kind: project
      name: Z
      description: Un fait dont la source n'est pas une adresse.
      facts: [{field: budget, value: 3, sources: [pas une url]}]
      sources: [https://example.org]
    """)
    records, problems = load_records(tmp_path)
    assert {r.id for r in records} == {"prog", "proj"}
    text = [str(p) for p in problems]
    assert any("b.yaml › sans-sources" in t and "sources" in t for t in text)
    assert any("b.yaml › mauvais-type" in t and "kind" in t for t in text)
    assert any("b.yaml › mauvaise-url" in t and "facts.0.sources" in t for t in text)


def test_duplicates_dangling_relations_and_broken_yaml(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "c.yaml", """
    - id: prog
      kind: programme
      name: Autre
      description: Un doublon de l'identifiant prog, refusé.
      sources: [https://example.org]
    - id: autre
      kind: project
      name: Programme test
      description: Reprend un alias déjà pris par prog.
      relations: {programme: inexistant}
      sources: [https://example.org]
    """)
    write(tmp_path, "d.yaml", "- id: [unclosed\n")
    records, problems = load_records(tmp_path)
    text = [str(p) for p in problems]
    assert any("c.yaml › prog" in t and "double" in t for t in text)
    assert any("autre" in t and "Programme test" in t for t in text)
    assert any("relations.programme" in t and "inexistant" in t for t in text)
    assert any(t.startswith("d.yaml") and "YAML" in t for t in text)
    autre = next(r for r in records if r.id == "autre")
    assert autre.relations == {}  # kept, without the dangling link


def test_fiche_lines_map_to_fields_and_sources(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    documents, problems = load_programme(tmp_path)
    assert problems == []
    proj = next(d for d in documents if d.doc_id == "proj")
    line = "PROJ — coordination : Marie Curie (CNRS)."
    assert proj.metadata["fields"][line] == "coordinators"
    assert proj.metadata["line_sources"][line] == "https://example.org/proj"
    assert "PROJ — programme : PROG." in proj.text


def test_corpus_joins_documents_and_records():
    documents, problems = load_corpus(corpus.SOURCES_DIR, corpus.PROGRAMME_DIR)
    assert problems == []
    kinds = {d.kind for d in documents}
    assert kinds == {"document", "record"}


def test_every_field_of_the_real_data_has_a_french_label():
    from corpus.programme import FIELD_LABELS

    records, _ = load_records(corpus.PROGRAMME_DIR)
    keys = {f.field for r in records for f in r.facts} | {k for r in records for k in r.relations}
    assert sorted(keys - set(FIELD_LABELS)) == []
