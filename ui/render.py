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
    if not answer.abstained:
        text = re.sub(r"\\\[(\d+)\\\]", lambda m: f"[\\[{m.group(1)}\\]](#source-{m.group(1)})", text)
    return notice + text


def _link(url: str, title: str) -> str:
    if url.startswith(("http://", "https://")):
        return (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
                f"{html.escape(title)}</a>")
    return html.escape(title)


def render_sources(answer: Answer | None, chunks: dict, lang: str = "fr") -> str:
    """HTML of the sources panel: per citation, its title and link, the quote highlighted in its passage,
    and for a programme record the record's fields. Everything from the corpus is escaped."""
    t = TEXTS[lang]
    if answer is None or not answer.citations:
        return f'<div id="sources-panel"><p>{html.escape(t["no_sources"].strip("*"))}</p></div>'
    parts = [f'<div id="sources-panel"><h3>{html.escape(t["sources"])}</h3>']
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        passage = chunk.text if chunk is not None else c.quote
        start = passage.find(c.quote)
        quote = html.escape(c.quote)
        if c.span and 0 <= c.span["start"] < c.span["end"] <= len(c.quote):  # the exact answer, inside the quote
            a, b = c.span["start"], c.span["end"]
            quote = (html.escape(c.quote[:a]) + f'<strong class="span">{html.escape(c.quote[a:b])}</strong>'
                     + html.escape(c.quote[b:]))
        if start >= 0:
            shown = (html.escape(passage[:start]) + f'<mark class="quote">{quote}</mark>'
                     + html.escape(passage[start + len(c.quote):]))
        else:
            shown = f'<mark class="quote">{quote}</mark>'
        field = f" · {html.escape(field_label(c.field))}" if c.field else ""
        if answer.disagreement and c.n in answer.disagreement:
            field += f' · <span class="differs">{html.escape(t["differs"])}</span>'

        parts.append(f'<div class="source" id="source-{c.n}"><p><b>[{c.n}]</b> {_link(c.source, c.title)}{field}</p>'
                     f'<blockquote class="passage">{shown}</blockquote>')
        if chunk is not None and chunk.kind == "record" and chunk.metadata.get("fields"):
            values = chunk.metadata.get("values", {})
            rows = "".join(f"<tr><td>{html.escape(field_label(f))}</td><td>{html.escape(values.get(line, line))}"
                           f"</td></tr>" for line, f in chunk.metadata["fields"].items() if f != "description")
            parts.append(f'<details><summary>{html.escape(t["fields"])}</summary><table class="fields">{rows}'
                         f"</table></details>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)
