"""Source documents: loading ``.txt``, ``.md``, ``.html`` and ``.pdf`` (text layer) files with their metadata sidecars.

A sidecar ``<stem>.meta.yaml`` next to a file gives its id, title, author,
publisher, date, canonical URL and the links it cites. Without one, the id is
derived from the file's path and the title from its first heading or line.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from corpus import safeyaml
from corpus.errors import CorpusError
from corpus.injection import addresses_assistant
from corpus.safeyaml import CorpusLimits

SIDECAR_SUFFIX = ".meta.yaml"
READERS: dict[str, callable] = {}
TITLE_CHARS = 120  # a title found in the text (a first line, a heading) is cut there, at a space


@dataclass(frozen=True)
class Document:
    """One indexable text with its provenance.

    Attributes:
        doc_id: Stable identifier, used in citations.
        title: Human title.
        text: The text exactly as read (for ``.txt`` the file itself).
        source: Where the reader can check it: a URL, else the file path.
        content_hash: SHA-256 of the raw bytes of the file (or record).
        kind: ``"document"`` or ``"record"``.
        metadata: Author, publisher, date, links, record fields…
        title_declared: The title was given apart from the text (a sidecar's ``title``): a first line that
            repeats it is the file's heading, left out of the passages. A title found in the text itself is
            still text: « Le laboratoire X a été créé en 2019. » as a first line is both title and content.
    """

    doc_id: str
    title: str
    text: str
    source: str
    content_hash: str
    kind: str = "document"
    metadata: dict = field(default_factory=dict)
    title_declared: bool = False


@dataclass(frozen=True)
class Problem:
    """A file or record that was skipped, and why.

    ``blocking``: the corpus is not fit to index as it is (two entries claim one id: which one is genuine?);
    a build refuses to run rather than pick one.
    """

    where: str
    message: str
    blocking: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def slugify(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-") or "doc"


def _reader(*suffixes):
    def register(fn):
        for suffix in suffixes:
            READERS[suffix] = fn
        return fn

    return register


@_reader(".txt")
def read_txt(raw: str) -> tuple[str, str | None]:
    first = next((line.strip() for line in raw.splitlines() if line.strip()), None)
    return raw, first


@_reader(".md", ".markdown")
def read_markdown(raw: str) -> tuple[str, str | None]:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", raw, flags=re.MULTILINE)
    title = match.group(1) if match else read_txt(raw)[1]
    return raw, title


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "head"}
    BLOCKS = {"p", "div", "section", "article", "li", "br", "h1", "h2", "h3", "h4",
              "h5", "h6", "tr", "blockquote", "header", "footer", "ul", "ol", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self.h1: str | None = None
        self._stack: list[str] = []
        self._capture: list[str] | None = None

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def handle_starttag(self, tag, attrs):
        if tag == "body" or (tag in self.BLOCKS and "head" in self._stack):
            # HTML5 lets </head> be omitted: the body starts here all the same.
            while "head" in self._stack:
                self._stack.pop()
        if tag not in self.VOID:
            self._stack.append(tag)
        if tag in self.BLOCKS:
            self.parts.append("\n\n")
        if tag in ("title", "h1"):
            self._capture = []

    def handle_endtag(self, tag):
        if tag in ("title", "h1") and self._capture is not None:
            text = " ".join("".join(self._capture).split())
            if tag == "title" and not self.title:
                self.title = text
            if tag == "h1" and not self.h1:
                self.h1 = text
            self._capture = None
        if tag in self.BLOCKS:
            self.parts.append("\n\n")
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        if self._capture is not None:
            self._capture.append(data)
        if any(t in self.SKIP for t in self._stack):
            return
        self.parts.append(data)


@_reader(".html", ".htm")
def read_html(raw: str) -> tuple[str, str | None]:
    parser = _HTMLText()
    parser.feed(raw)
    parser.close()
    text = "".join(parser.parts)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p) + "\n", parser.h1 or parser.title


def read_pdf(raw: bytes) -> tuple[str, str | None]:
    """The text layer of a PDF, page after page, and its title (document properties, else first line).

    Raises:
        ValueError: not a PDF, encrypted, damaged, or without a text layer (a scan).
    """
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise ValueError("PDF chiffré : impossible d'en lire le texte")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or None
    except (PdfReadError, OSError, KeyError, TypeError, AttributeError) as exc:  # pypdf's ways of saying « damaged »
        raise ValueError(f"PDF illisible ({type(exc).__name__}: {exc})") from None
    paragraphs = []
    for page in pages:
        # pypdf breaks lines where the page did: rejoin them, keep blank lines as paragraph breaks
        for block in re.split(r"\n\s*\n", page):
            joined = re.sub(r"-\n(?=[a-zà-ÿ])", "", block)
            joined = " ".join(joined.split())
            if joined:
                paragraphs.append(joined)
    text = "\n\n".join(paragraphs)
    if not text.strip():
        raise ValueError("PDF sans couche texte (document scanné ?) : rien à indexer")
    return text + "\n", (title.strip() if isinstance(title, str) and title.strip() else paragraphs[0][:120])


def _load_sidecar(path: Path, limits: CorpusLimits) -> dict:
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.exists():
        return {}
    try:
        data = safeyaml.load(sidecar.read_bytes(), limits) or {}
    except (safeyaml.yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"métadonnées illisibles dans {sidecar.name} : {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{sidecar.name} doit contenir un dictionnaire YAML")
    # Metadata ends up in JSON (the index, the answers): keys become text, dates ISO strings.
    return json.loads(json.dumps({str(k): v for k, v in data.items()}, default=str))


def _short_title(found: str | None) -> str | None:
    """A title taken from the text, at most ``TITLE_CHARS`` long: a file of one 2 MB line is not titled by all of
    it (the title heads every passage the embedder reads, and every citation). Cut, it no longer repeats the first
    line, which is then indexed whole as text."""
    if not found or len(found) <= TITLE_CHARS:
        return found
    return found[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip() + " …"


def load_document(path: Path, root: Path, limits: CorpusLimits = CorpusLimits()) -> Document:
    """Read one source file.

    Raises:
        ValueError: the file is not UTF-8, empty, too big, of an unknown type or has a bad sidecar.
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None and path.suffix.lower() != ".pdf":
        raise ValueError(f"type de fichier non pris en charge ({path.suffix or 'sans extension'})")
    size = path.stat().st_size
    if size > limits.document_bytes:
        raise ValueError(f"fichier de {size} octets, au-delà de la limite de {limits.document_bytes} "
                         "(limits.document_bytes) : découpez-le ou relevez la limite")
    raw_bytes = path.read_bytes()
    if reader is None:
        text, found_title = read_pdf(raw_bytes)
    else:
        try:
            raw = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"n'est pas encodé en UTF-8 (octet {exc.start})") from exc
        text, found_title = reader(raw)
    if not text.strip():
        raise ValueError("fichier vide")
    meta = _load_sidecar(path, limits)
    relative = path.relative_to(root).with_suffix("").as_posix()
    doc_id = str(meta.pop("id", None) or slugify(relative))
    declared = meta.pop("title", None)
    title = str(declared or _short_title(found_title) or path.stem)
    source = str(meta.get("url") or path.relative_to(root).as_posix())
    # Everything the index keeps of the document: its bytes, and the id, title and metadata of its sidecar.
    described = repr((doc_id, title, sorted(meta.items()))).encode()
    return Document(
        doc_id=doc_id,
        title=title,
        text=text,
        source=source,
        content_hash=hashlib.sha256(raw_bytes + described).hexdigest(),
        metadata={"path": path.relative_to(root).as_posix(), **meta},
        title_declared=bool(declared),
    )


def load_documents(root: Path, limits: CorpusLimits = CorpusLimits()) -> tuple[list[Document], list[Problem]]:
    """Load every readable source file under ``root``; unreadable ones become problems, and so does a text
    that addresses the assistant (it is indexed, but never quoted as support: see ``corpus.injection``).

    Raises:
        CorpusError: ``root`` does not exist.
    """
    if not root.is_dir():
        raise CorpusError(f"Dossier de sources introuvable : {root}")
    documents, problems, seen = [], [], {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.endswith(SIDECAR_SUFFIX) or path.name.startswith("."):
            continue
        where = path.relative_to(root).as_posix()
        try:
            doc = load_document(path, root, limits)
        except (ValueError, OSError) as exc:
            problems.append(Problem(where, str(exc)))
            continue
        if doc.doc_id in seen:
            problems.append(Problem(where, f"identifiant {doc.doc_id!r} déjà pris par {seen[doc.doc_id]}",
                                    blocking=True))
            continue
        seen[doc.doc_id] = where
        if (found := addresses_assistant(doc.text)) is not None:
            problems.append(Problem(where, f"texte qui s'adresse à l'assistant (« {found} ») : il ne sera jamais "
                                           "cité comme appui"))
        documents.append(doc)
    return documents, problems
