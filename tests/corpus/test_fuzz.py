"""Property-based fuzzing (hypothesis, bounded) of the corpus readers: whatever bytes or YAML a corpus file
holds, the loaders return documents and problems; they never raise, hang or expand without bound."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import safeyaml
from corpus.documents import load_documents, read_html, read_markdown, read_pdf
from corpus.programme import load_records
from tests.corpus.test_pdf import make_pdf

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=40))
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                     max_leaves=20)
record_like = st.fixed_dictionaries({
    "id": st.one_of(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True), scalars),
    "kind": st.sampled_from(["programme", "project", "person", "vaisseau"]),
    "name": st.text(max_size=30), "description": st.text(max_size=120),
    "facts": st.lists(st.dictionaries(st.sampled_from(["field", "value", "values", "sources", "text", "scope",
                                                       "as_of", "review", "note"]), trees, max_size=5), max_size=3),
    "sources": st.lists(st.sampled_from(["https://example.org/a", "pas une url", ""]), max_size=2),
})


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_safe_yaml_raises_only_yaml_or_encoding_errors(data):
    try:
        safeyaml.load(data, safeyaml.CorpusLimits(yaml_bytes=10_000, yaml_nodes=500))
    except (yaml.YAMLError, UnicodeDecodeError):
        pass


@FUZZ
@given(st.lists(record_like, max_size=4), st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200))
def test_record_files_give_records_or_problems_never_an_exception(items, raw):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "a.yaml").write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
        (folder / "b.yaml").write_bytes(raw.encode("utf-8", errors="surrogateescape"))
        records, problems = load_records(folder)
        assert len(records) <= len(items)
        assert all(p.where.startswith(("a.yaml", "b.yaml")) for p in problems)
        assert len({r.id for r in records}) == len(records)


@FUZZ
@given(trees, st.text(max_size=300))
def test_a_sidecar_of_any_shape_gives_a_document_or_a_problem(meta, body):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "doc.txt").write_text("Titre\n\n" + body + " Une phrase.\n", encoding="utf-8", errors="replace")
        (folder / "doc.meta.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
        documents, problems = load_documents(folder)
        assert len(documents) + len([p for p in problems if p.where == "doc.txt"]) >= 1


@FUZZ
@given(st.text(max_size=600))
def test_markdown_and_html_readers_return_text(raw):
    for reader in (read_markdown, read_html):
        text, title = reader(raw)
        assert isinstance(text, str) and (title is None or isinstance(title, str))


@FUZZ
@given(st.lists(st.lists(st.text(alphabet=st.characters(codec="cp1252", exclude_categories=("Cc", "Cs")),
                                  max_size=40), min_size=1, max_size=3), min_size=1, max_size=2),
       st.integers(0, 2000), st.binary(min_size=1, max_size=8))
def test_a_pdf_real_or_damaged_gives_text_or_a_clear_error(pages, at, junk):
    data = make_pdf(pages)
    damaged = data[:at] + junk + data[at + len(junk):]
    for candidate in (data, damaged):
        try:
            text, title = read_pdf(candidate)
            assert isinstance(text, str)
        except ValueError:
            pass
