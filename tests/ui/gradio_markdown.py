"""Markdown turned into HTML the way Gradio's Chatbot does it in the browser, for tests without a browser.

The Chatbot's renderer is « marked » (GFM, line breaks on) configured by a factory in Gradio's own
front-end bundle (``templates/frontend/assets/markdown-code-*.js``). :class:`GradioMarkdown` loads that very
bundle in Node, with its few imports (Svelte runtime, sanitiser, syntax highlighter: none of them shapes the
Markdown) replaced by stubs, and calls the factory with the Chatbot's settings. Sanitising comes after in
the browser and only removes things, so what this returns is what the page may show, or more.

:func:`commonmark_html` is the reference CommonMark rendering (markdown-it-py, with GFM tables and
strikethrough), for when Node or the bundle is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

HARNESS = r"""
import {%(factory)s as makeMarked} from "./markdown.mjs";
import readline from "node:readline";
const marked = makeMarked({header_links: false, line_breaks: true, latex_delimiters: []});
const lines = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
for await (const line of lines) {
  let out;
  try { out = {html: await marked.parse(JSON.parse(line))}; } catch (e) { out = {error: String(e)}; }
  process.stdout.write(JSON.stringify(out) + "\n");
}
"""


class Unavailable(RuntimeError):
    """Node or Gradio's Markdown bundle cannot be used here."""


def _bundle() -> Path:
    import gradio

    assets = Path(gradio.__file__).parent / "templates" / "frontend" / "assets"
    # the chunk's name changed across Gradio 6 releases (markdown-code-*.js, then MarkdownCode-*.js in 6.17)
    found = sorted(assets.glob("markdown-code-*.js")) + sorted(assets.glob("MarkdownCode-*.js"))
    if not found:
        raise Unavailable("no markdown-code-*.js in Gradio's front-end bundle")
    return found[0]


class GradioMarkdown:
    """A Node process that renders Markdown with Gradio's own « marked » set-up; use as a context manager."""

    def __init__(self, folder: Path):
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            raise Unavailable("node is not installed")
        source = _bundle().read_text(encoding="utf-8")
        factory = re.search(r"function ([\w$]+)\(\{header_links:[\w$]+,line_breaks:[\w$]+,latex_delimiters:[\w$]+\}\)",
                            source)
        if factory is None or not re.search(r"export\{([^}]*)\};?\s*$", source):
            raise Unavailable("Gradio's Markdown factory was not found in its bundle")
        for module in set(re.findall(r'import\{[^}]*\}from"(\./[^"]+)"', source)):
            source = source.replace(f'from"{module}"', 'from"./stub.mjs"')
        source = re.sub(r'import"\./[^"]+";', "", source)
        imported = {part.split(" as ")[0].strip() for names in re.findall(r'import\{([^}]*)\}from"\./stub\.mjs"', source)
                    for part in names.split(",")}
        exports = re.search(r"export\{([^}]*)\};?\s*$", source)
        source = source[: exports.start()] + f"export{{{exports.group(1)},{factory.group(1)}}};"
        folder.mkdir(parents=True, exist_ok=True)
        # Gradio 6.17's chunk reads the global Prism (code highlighting) as it loads: an inert one, since the
        # renderer is used here for what it does to plain text, not to code blocks
        prism = ("const inert = new Proxy(function () {}, {get: (t, k) => k === Symbol.toPrimitive ? () => '' : "
                 "k === 'then' ? undefined : inert, apply: () => inert, construct: () => inert, set: () => true});\n"
                 "globalThis.Prism ??= inert;\n")
        (folder / "markdown.mjs").write_text(prism + source, encoding="utf-8")
        (folder / "stub.mjs").write_text("const f = () => f;\n" + "".join(f"export const {n} = f;\n"
                                                                          for n in sorted(imported)))
        (folder / "harness.mjs").write_text(HARNESS % {"factory": factory.group(1)}, encoding="utf-8")
        self.process = subprocess.Popen([node, str(folder / "harness.mjs")], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        encoding="utf-8", cwd=folder)
        try:
            self.render("*ok*")
        except Exception as exc:
            self.close()
            raise Unavailable(f"Gradio's Markdown bundle does not run in Node: {exc}") from exc

    def render(self, markdown: str) -> str:
        self.process.stdin.write(json.dumps(markdown) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(self.process.stderr.read()[-2000:])
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["html"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def commonmark_html(markdown: str) -> str:
    """The CommonMark rendering of ``markdown`` (markdown-it-py, GFM tables and strikethrough on)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"breaks": True}).enable(["table", "strikethrough"]).render(markdown)
