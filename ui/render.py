"""Rendering for the chat: corpus, model and user text shown as exactly its characters (no tag, link, image or
math can come out of it), answers whose [n] markers link to the sources panel, and the panel itself."""

from __future__ import annotations

import html
import re

from assistant.compose.answer import Answer
from corpus.fields import label
from ui.texts import TEXTS


_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>!|#~$&:@]")
_WWW = re.compile(r"(www)\.", re.IGNORECASE)  # « www.cnrs.fr » is a GFM autolink too
_LINE_START = re.compile(r"^(?:[-+=]|\d{1,9}[.)])")  # list items, setext underlines, ordered lists


def _md(text: str) -> str:
    """Escape what Markdown or HTML would interpret in corpus, model or user text: no tag, script, image,
    link (not even a bare URL or e-mail address), list, heading, code or math can come out of it
    (« <img src=x onerror=…> », « ![](http://…) », « https://www.cnrs.fr », « $$x$$ » are shown as text).

    Only backslash escapes are used, so the text the reader sees is exactly ``text`` (leading spaces of a
    line aside, which HTML does not show anyway and Markdown would read as a code block)."""
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(), text)
    text = _WWW.sub(lambda m: m.group(1) + "\\.", text)
    lines = []
    for line in re.split(r"\r\n|\r|\n", text):
        line = line.lstrip(" \t")
        start = _LINE_START.match(line)
        if start:
            line = line[: start.end() - 1] + "\\" + line[start.end() - 1:]
        lines.append(line)
    return "\n".join(lines)


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before any ASCII punctuation


def _unmd(text: str) -> str:
    """The text :func:`_md` escaped (the user's own question, as shown in the chat)."""
    return _ESCAPED.sub(r"\1", text)


def field_label(field: str) -> str:
    """« budget », « coordination », « relations.programme » → « programme »: the fiche's own words."""
    return label(field)


def render_answer(answer: Answer) -> str:
    """Markdown for the chat: a notice if the generated text was set aside, then the answer, whose markers
    [n] link to the sources panel."""
    notice = " ".join((answer.notice or "").split())  # one line, so that the emphasis holds
    notice = f"ℹ️ *{_md(notice)}*\n\n" if notice else ""
    text = _md(answer.answer)
    if answer.disagreement:  # the sources give different values: each one is shown with its own source
        text = f"⚖️ {text}"
    if not answer.abstained or answer.citations:  # an answer, or a refusal quoting what lies nearby
        text = re.sub(r"\\\[(\d+)\\\]", lambda m: f"[\\[{m.group(1)}\\]](#source-{m.group(1)})", text)
    return notice + text


def _link(url: str, title: str) -> str:
    if url.startswith(("http://", "https://")):
        return (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
                f"{html.escape(title)}</a>")
    return html.escape(title)


def _passages(cited: list, chunks: dict) -> list[tuple[str, list]]:
    """The fewest passages of one document that show all its cited quotes, each with the citations it shows.

    A quote is shown in the first passage (in citation order) that contains it: two citations of one chunk, or of
    two chunks whose texts overlap, share one passage instead of repeating nearly the same text."""
    shown: list[tuple[str, list]] = []
    for c in cited:
        chunk = chunks.get(c.chunk_id)
        home = next((entry for entry in shown if c.quote in entry[0]), None)
        if home is None and chunk is not None and c.quote in chunk.text:
            home = next((entry for entry in shown if entry[0] in chunk.text), None)  # a wider passage of the same text
            if home is not None:
                shown[shown.index(home)] = home = (chunk.text, home[1])
        if home is None:
            home = (chunk.text if chunk is not None and c.quote in chunk.text else c.quote, [])
            shown.append(home)
        home[1].append(c)
    return shown


def _highlight(passage: str, cited: list) -> str:
    """The passage escaped, each cited quote in a ``<mark class="quote">`` (overlapping quotes share one mark), the
    span reader's exact answer in ``<strong class="span">`` inside it."""
    marks: list[list[int]] = []
    strong: list[tuple[int, int]] = []
    for c in cited:
        at = passage.find(c.quote)
        marks.append([at, at + len(c.quote)])
        if c.span and 0 <= c.span["start"] < c.span["end"] <= len(c.quote):
            strong.append((at + c.span["start"], at + c.span["end"]))
    merged: list[list[int]] = []
    for a, b in sorted(marks):
        if merged and a < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    inside = [(a, b) for a, b in strong if not any(x < a < b < y for x, y in strong if (x, y) != (a, b))]
    out, at = [], 0
    for a, b in merged:
        out.append(html.escape(passage[at:a]))
        text, cut = [], a
        for x, y in sorted(s for s in inside if a <= s[0] and s[1] <= b):
            if x < cut:
                continue
            text += [html.escape(passage[cut:x]), f'<strong class="span">{html.escape(passage[x:y])}</strong>']
            cut = y
        text.append(html.escape(passage[cut:b]))
        out.append(f'<mark class="quote">{"".join(text)}</mark>')
        at = b
    out.append(html.escape(passage[at:]))
    return "".join(out)


def render_sources(answer: Answer | None, chunks: dict, lang: str = "fr") -> str:
    """HTML of the sources panel: one card per cited document (its citation numbers, title and link), each passage
    shown once with every quote taken from it highlighted, and for a programme record the record's fields.
    Every citation number keeps its anchor (``#source-n``). Everything from the corpus is escaped."""
    t = TEXTS[lang]
    if answer is None or not answer.citations:
        return f'<div id="sources-panel"><p>{html.escape(t["no_sources"].strip("*"))}</p></div>'
    parts = [f'<div id="sources-panel"><h3>{html.escape(t["sources"])}</h3>']
    by_document: dict[str, list] = {}
    for c in answer.citations:
        by_document.setdefault(c.doc_id, []).append(c)
    for cited in by_document.values():
        first = cited[0]
        numbers = " ".join(f"<b>[{c.n}]</b>" for c in cited)
        anchors = "".join(f'<span id="source-{c.n}"></span>' for c in cited[1:])
        fields = list(dict.fromkeys(c.field for c in cited if c.field))
        field = "".join(f" · {html.escape(field_label(f))}" for f in fields)
        if answer.disagreement and any(c.n in answer.disagreement for c in cited):
            field += f' · <span class="differs">{html.escape(t["differs"])}</span>'
        parts.append(f'<div class="source" id="source-{first.n}"><p>{numbers}{anchors} '
                     f'{_link(first.source, first.title)}{field}</p>')
        for passage, shown in _passages(cited, chunks):
            parts.append(f'<blockquote class="passage">{_highlight(passage, shown)}</blockquote>')
        record = next((chunks[c.chunk_id] for c in cited if c.chunk_id in chunks
                       and chunks[c.chunk_id].kind == "record" and chunks[c.chunk_id].metadata.get("fields")), None)
        if record is not None:
            values = record.metadata.get("values", {})
            rows = "".join(f"<tr><td>{html.escape(field_label(f))}</td><td>{html.escape(values.get(line, line))}"
                           f"</td></tr>" for line, f in record.metadata["fields"].items() if f != "description")
            parts.append(f'<details><summary>{html.escape(t["fields"])}</summary><table class="fields">{rows}'
                         f"</table></details>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)
