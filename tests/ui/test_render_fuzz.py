"""Property-based fuzzing of the chat's renderers (audit, issue 14, finding 6): whatever the text — Markdown,
HTML, URLs, e-mail addresses, ``$$``, backslashes, any Unicode — what the chat shows is that text, as text.

The Markdown of :func:`ui.app.render_answer` and :func:`ui.app._md` is rendered both by Gradio's own
« marked » set-up (tests/ui/gradio_markdown.py, Node) and by CommonMark (markdown-it-py); the HTML of
:func:`ui.app.render_sources` is parsed as is. Neither may hold a tag, a link or math coming from the text:
only the renderer's own paragraphs and line breaks, the [n] citation anchors, and in the sources panel its
own structure and each source's link.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.compose.answer import Answer, Citation
from tests.ui.gradio_markdown import GradioMarkdown, Unavailable, commonmark_html
from ui.render import _md, _unmd, render_answer, render_sources

pytestmark = [pytest.mark.ui]

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Pieces that mean something to Markdown, HTML, GFM autolinks or LaTeX, mixed with any text.
TRICKY = ["https://www.cnrs.fr/fr/ia_2024", "http://evil.example/x.png", "www.inria.fr", "WWW.X.ORG", "ftp://a.b/c",
          "contact@cnrs.fr", "mailto:a@b.fr", "<https://a.b>", "[lien](http://a.b)", "![](http://a.b/i.png)", "[1]",
          "[12]", "[x]: http://a.b", "$$x^2$$", "$x$", "\\(x\\)", "\\[x\\]", "\\", "\\\\", "\\_", "**gras**",
          "_it_", "~~barré~~", "`code`", "```", "~~~", "<img src=x onerror=alert(1)>", "<script>x</script>",
          "<b>", "&amp;", "&#60;", "&lt;", "# titre", "## ", "> cite", "- item", "+ item", "* item", "1. un",
          "2) deux", "---", "===", "***", "___", "| a | b |", "|---|", "    code", "\t\tcode", "\n", "\n\n",
          "\r\n", "\r", "  \n", "<!-- c -->", "<div>", "</p>", "\u00a0", "\u200b", "é", "«\u202fguillemets\u202f»",
          "🙂", "ℹ️", "⚖️", ":", "@", "!", "|", "#", "(", ")", "{", "}", "%", "^", "=", "'", '"']
text = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)),
    max_size=14).map("".join)


class Shown(HTMLParser):
    """The tags, links and visible text of an HTML fragment (a line break counts as white space)."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.links, self.text, self._link = [], [], [], None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self._link = [dict(attrs).get("href"), ""]
            self.links.append(self._link)
        if tag == "br":
            self.text.append("\n")

    def handle_endtag(self, tag):
        if tag == "a":
            self._link = None

    def handle_data(self, data):
        self.text.append(data)
        if self._link is not None:
            self._link[1] += data

    @property
    def visible(self) -> str:
        return norm("".join(self.text))


def norm(value: str) -> str:
    """Text as a reader sees it: runs of white space are one space (HTML shows no more)."""
    return " ".join(value.split())


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    try:
        renderer = GradioMarkdown(tmp_path_factory.mktemp("gradio-markdown"))
    except Unavailable as exc:
        pytest.skip(f"Gradio's own Markdown renderer cannot run here: {exc}")
    with renderer:
        yield renderer


def renderings(markdown: str, marked) -> dict[str, Shown]:
    return {"marked (Gradio)": Shown(marked.render(markdown)), "CommonMark": Shown(commonmark_html(markdown))}


def no_math(markdown: str) -> None:
    """No ``$$`` left for Gradio's LaTeX pass (it reads the Markdown source), even if the Chatbot had
    delimiters again; ``\\$\\$`` shows as « $$ » but is not a delimiter."""
    assert "$$" not in markdown


@FUZZ
@given(value=text)
@example(value="voir https://www.cnrs.fr/fr/ia_2024 et contact@cnrs.fr $$x$$ a\\b")
@example(value="1. un\n- deux\n===\n\n    code\n> cite")
def test_escaped_text_renders_as_exactly_that_text(marked, value):
    markdown = _md(value)
    no_math(markdown)
    for name, shown in renderings(markdown, marked).items():
        assert {tag for tag, _ in shown.tags} <= {"p", "br"}, (name, value, shown.tags)
        assert shown.visible == norm(value), (name, value, markdown)
    assert norm(_unmd(markdown)) == norm(value)  # the user's question, read back from the chat


citation_marker = st.integers(1, 12).map(lambda n: f" [{n}]")


@FUZZ
@given(pieces=st.lists(st.one_of(text, citation_marker), max_size=6), notice=st.none() | text,
       abstained=st.booleans(), disagreement=st.booleans())
@example(pieces=["Le rapport https://www.cnrs.fr/fr/ia_2024 dit : $$x$$ \\o/", " [1]"], notice=None,
         abstained=False, disagreement=False)
def test_an_answer_shows_its_text_and_links_only_to_its_sources(marked, pieces, notice, abstained, disagreement):
    value = "".join(pieces)
    answer = Answer(question="q", answer=value, abstained=abstained, notice=notice,
                    disagreement=[1, 2] if disagreement else None)
    markdown = render_answer(answer)
    no_math(markdown)
    expected = norm(value)
    for name, shown in renderings(markdown, marked).items():
        assert {tag for tag, _ in shown.tags} <= {"p", "br", "a", "em"}, (name, value, shown.tags)
        for href, label in shown.links:
            number = re.fullmatch(r"#source-(\d+)", href or "")
            assert number and label == f"[{number.group(1)}]", (name, value, href, label)
        assert len(shown.links) == (0 if abstained else len(re.findall(r"\[\d+\]", value))), (name, value)
        assert "em" not in {tag for tag, _ in shown.tags} or notice
        assert shown.visible.endswith(expected), (name, value, shown.visible)
        if notice and norm(notice):
            assert shown.visible.startswith(f"ℹ️ {norm(notice)}"), (name, notice, shown.visible)


url = st.one_of(text, st.builds(lambda scheme, rest: scheme + rest, st.sampled_from(
    ["http://", "https://", "javascript:", "HTTPS://", "data:text/html,", ""]), text))


@FUZZ
@given(title=text, source=url, quote=text, before=text, after=text, field=st.none() | text,
       record=st.booleans(), values=st.dictionaries(text, text, max_size=3), disagreement=st.booleans(),
       in_passage=st.booleans())
@example(title="<b>x</b>", source="javascript:alert(1)", quote="https://www.cnrs.fr $$x$$", before="a",
         after="<script>", field="budget", record=True, values={"l": "<img src=x>"}, disagreement=True,
         in_passage=True)
def test_the_sources_panel_shows_corpus_text_as_text(title, source, quote, before, after, field, record, values,
                                                     disagreement, in_passage):
    passage = before + quote + after if in_passage else before + after
    citation = Citation(1, "doc", title, source, "doc#0", quote, 1.0, field=field)
    chunk = SimpleNamespace(text=passage, kind="record" if record else "document",
                            metadata={"fields": {line: f"f{i}" for i, line in enumerate(values)}, "values": values})
    answer = Answer(question="q", answer="x [1]", abstained=False, citations=[citation],
                    disagreement=[1] if disagreement else None)
    panel = render_sources(answer, {"doc#0": chunk})
    shown = Shown(panel)
    allowed = {"div", "h3", "p", "b", "a", "span", "blockquote", "mark", "details", "summary", "table", "tr", "td"}
    assert {tag for tag, _ in shown.tags} <= allowed
    for tag, attrs in shown.tags:
        assert set(attrs) <= {"id", "class", "href", "target", "rel"}, (tag, attrs)
        if tag == "a":
            assert attrs["href"] == source and source.startswith(("http://", "https://")), attrs
    assert len(shown.links) == (1 if source.startswith(("http://", "https://")) else 0)
    marks = re.findall(r'<mark class="quote">(.*?)</mark>', panel, re.S)
    assert [html.unescape(m) for m in marks] == [quote]
    assert norm(passage if quote in passage else quote) in shown.visible


def test_quotes_of_one_document_share_its_passages():
    """Two quotes of one chunk, and a quote of a second chunk of the same record whose text the first holds, make
    one card with one passage; a quote of another document makes a second card. Overlapping quotes share a mark;
    the span stays inside its quote; every citation number keeps an anchor."""
    text = "Jean Zay compte 3 100 GPU. Il a 1 456 GPU H100. Il est à Orsay."
    wide = SimpleNamespace(text=text, kind="document", metadata={})
    narrow = SimpleNamespace(text="Il a 1 456 GPU H100.", kind="document", metadata={})
    other = SimpleNamespace(text="Le PEPR IA a 73 M€.", kind="document", metadata={})
    cites = [Citation(1, "jz", "Jean Zay", "https://a.example", "jz#1", "Il a 1 456 GPU H100.", 1.0,
                      span={"text": "1 456", "start": 5, "end": 10}),
             Citation(2, "jz", "Jean Zay", "https://a.example", "jz#0", "Jean Zay compte 3 100 GPU.", 1.0),
             Citation(3, "jz", "Jean Zay", "https://a.example", "jz#0", "3 100 GPU. Il a", 1.0),
             Citation(4, "pepr", "PEPR", "https://b.example", "pepr#0", "Le PEPR IA a 73 M€.", 1.0)]
    panel = render_sources(Answer("q", "… [1] [2] [3] [4]", False, cites),
                           {"jz#1": narrow, "jz#0": wide, "pepr#0": other})
    assert panel.count('<div class="source"') == 2
    assert all(f'id="source-{n}"' in panel for n in (1, 2, 3, 4))
    passages = re.findall(r'<blockquote class="passage">(.*?)</blockquote>', panel, re.S)
    assert [re.sub(r"<[^>]+>", "", p) for p in passages] == [text, "Le PEPR IA a 73 M€."]
    marks = [re.sub(r"<[^>]+>", "", m) for m in re.findall(r'<mark class="quote">(.*?)</mark>', passages[0], re.S)]
    assert marks == ["Jean Zay compte 3 100 GPU. Il a 1 456 GPU H100."]  # three overlapping quotes, one mark
    assert '<strong class="span">1 456</strong>' in passages[0]
