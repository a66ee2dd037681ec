import re
import textwrap

import pytest
import yaml

import corpus
from corpus.fields import as_of_phrase, date_phrase, enumerate_fr, of, to
from corpus.load import load_corpus
from corpus.programme import load_programme, load_records, several_valued
from corpus.records import RESEARCH_NOTE
from corpus.text import fold

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
      name: PROJ
      description: Reprend le nom déjà pris par proj.
      relations: {programme: inexistant}
      sources: [https://example.org]
    """)
    write(tmp_path, "d.yaml", "- id: [unclosed\n")
    records, problems = load_records(tmp_path)
    text = [str(p) for p in problems]
    assert any("c.yaml › prog" in t and "double" in t for t in text)
    assert "prog" not in {r.id for r in records}  # claimed twice: neither definition is trusted
    assert any(p.blocking for p in problems if "double" in p.message)
    assert any("autre" in t and "PROJ" in t for t in text)
    assert any("relations.programme" in t and "inexistant" in t for t in text)
    assert any(t.startswith("d.yaml") and "YAML" in t for t in text)
    autre = next(r for r in records if r.id == "autre")
    assert autre.relations == {}  # kept, without the dangling link


def test_fiche_lines_are_french_sentences_mapped_to_fields_and_sources(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    documents, problems = load_programme(tmp_path)
    assert problems == []
    proj = next(d for d in documents if d.doc_id == "proj")
    line = "PROJ est coordonné par Marie Curie (CNRS)."
    assert proj.metadata["fields"][line] == "coordinators"
    assert proj.metadata["line_sources"][line] == "https://example.org/proj"
    assert proj.metadata["values"][line] == "Marie Curie (CNRS)"
    assert "PROJ fait partie de PROG." in proj.text
    prog = next(d for d in documents if d.doc_id == "prog")
    assert "PROG dispose d'un budget de 10 millions d'euros." in prog.text
    assert "PROG est aussi appelé Programme test." in prog.text
    assert prog.metadata["names"] == ["PROG", "Programme test"]


SEVERAL = """
- id: machine
  kind: infrastructure
  name: Machine X
  subject: La machine X
  description: Un supercalculateur imaginaire dont l'inauguration est datée différemment selon les sources.
  facts:
    - field: launch_date
      review: deux journaux donnent deux dates ; page du second tronquée dans la copie lue
      values:
        - value: 22 janvier 2020
          scope: selon Le Journal
          sources: [https://example.org/journal]
        - value: 24 janvier 2020
          scope: selon la Revue
          as_of: 2020-02
          sources: [https://example.org/revue]
    - field: gpus
      value: 1 044 GPU
      text: La machine X a été livrée avec 1 044 GPU au total.
      sources: [https://example.org/gpu]
  relations: {copilot_of: prog}
  sources: [https://example.org/journal]
"""


def test_a_fact_with_several_values_renders_each_with_its_source_and_qualifier(tmp_path):
    write(tmp_path, "a.yaml", GOOD + SEVERAL)
    documents, problems = load_programme(tmp_path)
    assert problems == []
    machine = next(d for d in documents if d.doc_id == "machine")
    first = "La machine X a été lancée le 22 janvier 2020 (selon Le Journal)."
    second = "La machine X a été lancée le 24 janvier 2020 (selon la Revue, février 2020)."
    assert first in machine.text and second in machine.text
    assert machine.metadata["line_sources"][first] == "https://example.org/journal"
    assert machine.metadata["line_sources"][second] == "https://example.org/revue"
    groups = machine.metadata["groups"]
    assert groups[first] == groups[second] and len(groups) == 2
    assert "La machine X a été livrée avec 1 044 GPU au total." in machine.text
    assert "La machine X co-pilote PROG." in machine.text
    # the curators' note is data about our reading, never text: not rendered, not in the metadata
    assert "tronquée" not in machine.text and "tronquée" not in str(machine.metadata)
    records, _ = load_records(tmp_path)
    assert several_valued(records) == [("machine", "launch_date", 2)]


@pytest.mark.parametrize("where, bad", [
    ("description", "Un programme dont la direction n'a pas pu être confirmée dans les pages lues."),
    ("value", "plus de 150 doctorants (phrase tronquée dans la copie lue)"),
    ("value", "CEA, CNRS ; directeurs Inria non retrouvés"),
    ("text", "Le programme compte 12 projets, chiffre déduit des pages consultées."),
    ("scope", "selon la page consultée le 3 mars"),
])
def test_rendered_text_that_speaks_of_our_research_is_refused(tmp_path, where, bad):
    fact = {"field": "figures", "value": "12 projets", "sources": ["https://example.org/p"]}
    record = {"id": "p", "kind": "programme", "name": "P", "description": "Un programme de recherche fictif.",
              "facts": [fact], "sources": ["https://example.org/p"]}
    if where == "description":
        record["description"] = bad
    else:
        fact[where] = bad
    (tmp_path / "a.yaml").write_text(yaml.safe_dump([record], allow_unicode=True), encoding="utf-8")
    records, problems = load_records(tmp_path)
    assert records == []
    assert len(problems) == 1 and "review" in str(problems[0]) and "› p" in str(problems[0])


@pytest.mark.parametrize("fact, message", [
    ({"field": "budget", "value": "10 M€", "text": "P dispose de dix millions d'euros.", "sources": ["https://e.org"]},
     "chiffre"),
    ({"field": "zodiac_sign", "value": "Lion", "sources": ["https://e.org"]}, "modèle de phrase"),
    ({"field": "budget", "values": [{"value": "10 M€", "sources": ["https://e.org"]}]}, "au moins deux"),
    ({"field": "budget", "value": "10 M€", "sources": ["https://e.org"],
      "values": [{"value": "1", "sources": ["https://e.org"]}, {"value": "2", "sources": ["https://e.org"]}]}, "pas les deux"),
    ({"field": "budget", "values": [{"value": "1", "sources": ["https://e.org"], "as_of": "mars 2024"},
                                    {"value": "2", "sources": ["https://e.org"]}]}, "as_of"),
])
def test_badly_written_facts_are_refused_with_the_reason(tmp_path, fact, message):
    record = {"id": "p", "kind": "programme", "name": "P", "description": "Un programme de recherche fictif.",
              "facts": [fact], "sources": ["https://example.org/p"]}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump([record], allow_unicode=True), encoding="utf-8")
    records, problems = load_records(tmp_path)
    assert records == [] and any(message in str(p) for p in problems), problems


def test_french_grammar_of_the_templates():
    assert [of(s) for s in ("Le PEPR IA", "Les instituts", "La stratégie", "L'ANR", "AISSAI", "Jean Zay")] == [
        "du PEPR IA", "des instituts", "de la stratégie", "de l'ANR", "d'AISSAI", "de Jean Zay"]
    assert [to(s) for s in ("Le CNRS", "Les instituts", "L'INS2I", "Inria")] == [
        "au CNRS", "aux instituts", "à l'INS2I", "à Inria"]
    assert enumerate_fr(["le CEA", "le CNRS", "Inria"]) == "le CEA, le CNRS et Inria"
    assert [date_phrase(v) for v in ("25 mars 2024", "1er janvier 2025", "mars 2024", "2022", "fin 2021")] == [
        "le 25 mars 2024", "le 1er janvier 2025", "en mars 2024", "en 2022", "fin 2021"]
    assert [as_of_phrase(v) for v in ("2025", "2025-03", "2025-03-01")] == ["2025", "mars 2025", "1er mars 2025"]


def test_corpus_joins_documents_and_records():
    documents, problems = load_corpus(corpus.SOURCES_DIR, corpus.PROGRAMME_DIR)
    assert problems == []
    kinds = {d.kind for d in documents}
    assert kinds == {"document", "record"}


# Every rendered line is a sentence: a capital first, a full stop last, and none of the old « X — champ : »
# labels or the template seams that betray a value not written for its template.
_SEAMS = re.compile(r" — [\w' -]+ : |\b(de|à|le|la|les|est|par|en) \1\b|"
                    r"a été \w+ (?:inauguration|lancement|annonce|mise en service)\b|\best (?:un|une) (?:un|une)\b")


def test_every_line_of_the_real_data_reads_as_a_french_sentence():
    documents, problems = load_programme(corpus.PROGRAMME_DIR)
    assert problems == []
    bad = []
    for doc in documents:
        for line, field in doc.metadata["fields"].items():
            if not (line[0].isupper() or line[0].isdigit()) or not line.endswith((".", "!", "?")) or _SEAMS.search(line):
                bad.append(f"{doc.doc_id} › {field}: {line}")
    assert bad == []


def test_no_real_record_text_speaks_of_our_research():
    documents, _ = load_programme(corpus.PROGRAMME_DIR)
    assert [d.doc_id for d in documents if RESEARCH_NOTE.search(fold(d.text))] == []


def test_the_disagreements_of_the_real_data_are_facts_with_several_values():
    records, _ = load_records(corpus.PROGRAMME_DIR)
    several = {(r, f) for r, f, _ in several_valued(records)}
    assert {("pepr-ia", "figures"), ("jean-zay", "inauguration_date"), ("ami-ia-cluster", "budget")} <= several
