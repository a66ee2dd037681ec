"""PDF sources: the text layer is read page by page; a scan, a damaged or encrypted file is named and skipped."""

from __future__ import annotations

from corpus.documents import load_documents
from index.chunking import chunk_document


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A real, minimal PDF: one Helvetica text line per entry, WinAnsi-encoded (French accents included)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None,
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for lines in pages:
        body = "BT /F1 12 Tf 72 760 Td 14 TL " + " ".join(
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*" for line in lines) + " ET"
        stream = body.encode("cp1252")
        objects.append(("stream", stream))
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                       f"/Contents {len(objects)} 0 R >>")
        kids.append(len(objects))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    info = None
    if title:
        objects.append(f"<< /Title ({title}) >>")
        info = len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        if isinstance(obj, tuple):
            data = obj[1]
            out += f"{number} 0 obj\n<< /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream\nendobj\n"
        else:
            out += f"{number} 0 obj\n{obj}\nendobj\n".encode("cp1252")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R" + (f" /Info {info} 0 R" if info else "") + " >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_a_pdf_text_layer_is_indexed_page_by_page(tmp_path):
    (tmp_path / "rapport.pdf").write_bytes(make_pdf(
        [["Le supercalculateur Jean Zay est installé à l'IDRIS.", "Il se trouve à Orsay."],
         ["Le PEPR IA est doté de 73 millions d'euros."]], title="Rapport sur le calcul"))
    (tmp_path / "note.txt").write_text("Une note.\n\nLe CNRS a créé AISSAI en 2021.\n", encoding="utf-8")
    documents, problems = load_documents(tmp_path)
    assert problems == []
    pdf = next(d for d in documents if d.metadata["path"] == "rapport.pdf")
    assert pdf.title == "Rapport sur le calcul"
    assert "installé à l'IDRIS" in pdf.text and "73 millions d'euros" in pdf.text
    chunks = chunk_document(pdf)
    assert any("Orsay" in c.text for c in chunks) and all(c.text in pdf.text for c in chunks)


def test_unreadable_pdfs_are_named_and_skipped_while_the_rest_loads(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(make_pdf([[]]))  # pages without any text: a scan
    (tmp_path / "abime.pdf").write_bytes(make_pdf([["Texte."]])[:150])  # cut short
    (tmp_path / "faux.pdf").write_text("ceci n'est pas un PDF", encoding="utf-8")
    (tmp_path / "bon.md").write_text("# Bon\n\nLe PEPR IA est doté de 73 millions d'euros.\n", encoding="utf-8")
    documents, problems = load_documents(tmp_path)
    assert [d.metadata["path"] for d in documents] == ["bon.md"]
    reasons = {p.where: p.message for p in problems}
    assert set(reasons) == {"scan.pdf", "abime.pdf", "faux.pdf"}
    assert "couche texte" in reasons["scan.pdf"] and "illisible" in reasons["faux.pdf"]


def test_markdown_headings_become_section_metadata(tmp_path):
    (tmp_path / "guide.md").write_text(
        "# Guide du PEPR IA\n\n## Budget\n\nLe PEPR IA est doté de 73 millions d'euros.\n\n"
        "## Gouvernance\n\nIl est co-piloté par le CEA, le CNRS et Inria.\n", encoding="utf-8")
    documents, _ = load_documents(tmp_path)
    chunks = chunk_document(documents[0])
    assert documents[0].title == "Guide du PEPR IA"
    assert [(c.section, c.text) for c in chunks] == [
        ("Budget", "Le PEPR IA est doté de 73 millions d'euros."),
        ("Gouvernance", "Il est co-piloté par le CEA, le CNRS et Inria.")]
