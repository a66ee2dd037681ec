"""FQuAD (SQuAD-format) files read as the project reads its corpus: paragraphs as documents, questions with gold spans.

FQuAD 1.0 (Illuin Technology, CC BY-NC-SA 3.0) lies in ``../shared/data/fquad-train/``; nothing of its text is
copied into the project: it is read from there at run time. The articles are split once into a *fit* part (the
reader is trained on it) and a *held-out* part (measured, never fitted on) by a rule on the article titles,
written down with the file's hash in ``eval/fquad_split.json`` before anything was fitted. Within the fit part, the
articles whose title's sha256 is 1 modulo 5 form the *calibration* part: the reader is not trained on them, and the
abstention threshold is chosen on them (and on eval/dev_qa.jsonl); the others are the *train* part.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from corpus.documents import Document
from corpus.errors import DatasetError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "fquad-train" / "fquad_train.json.gz"
SPLIT_FILE = ROOT / "eval" / "fquad_split.json"
HELD_OUT_SHARE = 5  # an article whose title's sha256 is 0 modulo 5 is held out: one in five


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]  # gold spans (FQuAD's training split has one per question)
    start: int  # offset of the first gold span in its paragraph
    doc_id: str  # the paragraph holding the answer
    article: str


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: tuple[Document, ...]
    questions: tuple[Question, ...]


def held_out(title: str) -> bool:
    return int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16) % HELD_OUT_SHARE == 0


def file_hash(path: Path) -> str:
    from index.e5_model import sha256_file

    return sha256_file(path)


def load(path: Path = DEFAULT_FILE) -> list[Article]:
    """Every article of a SQuAD-format file (``.json`` or ``.json.gz``), its paragraphs as documents."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"fichier de questions introuvable : {path}")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        data = json.loads(raw)["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path} n'est pas un fichier au format SQuAD lisible : {exc}") from exc
    articles = []
    for a, article in enumerate(data):
        try:
            title = article["title"]
            paragraphs, questions = [], []
            for p, paragraph in enumerate(article["paragraphs"]):
                doc_id = f"fquad-{a:03d}-{p:03d}"
                context = paragraph["context"]
                paragraphs.append(Document(doc_id=doc_id, title=title.replace("_", " ").replace("-", " "), text=context,
                                           source=f"FQuAD 1.0, {title}, paragraphe {p + 1}",
                                           content_hash=hashlib.sha256(context.encode("utf-8")).hexdigest()))
                for qa in paragraph["qas"]:
                    answers = tuple(x["text"] for x in qa["answers"])
                    if answers:
                        questions.append(Question(qa["id"], qa["question"].strip(), answers,
                                                  int(qa["answers"][0]["answer_start"]), doc_id, title))
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path} : article {a} mal formé ({exc})") from exc
        articles.append(Article(title, tuple(paragraphs), tuple(questions)))
    return articles


def calibration(title: str) -> bool:
    return int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16) % HELD_OUT_SHARE == 1


PARTS = ("held_out", "fit", "train", "calibration")


def split(articles: list[Article], path: Path, split_file: Path = SPLIT_FILE) -> dict[str, list[Article]]:
    """The fit and held-out articles, as fixed in ``split_file`` (checked against the data file's hash), and the fit
    part's two halves: ``train`` and ``calibration``."""
    fixed = json.loads(split_file.read_text(encoding="utf-8"))
    if fixed["sha256"] != file_hash(Path(path)):
        raise DatasetError(f"{path} n'est pas le fichier sur lequel {split_file.name} a été fixé "
                           f"(sha256 attendu {fixed['sha256'][:12]}…)")
    by_title = {a.title: a for a in articles}
    parts = {part: [by_title[t] for t in fixed[part]] for part in ("fit", "held_out")}
    parts["train"] = [a for a in parts["fit"] if not calibration(a.title)]
    parts["calibration"] = [a for a in parts["fit"] if calibration(a.title)]
    return parts


def sample(questions: list[Question], n: int, seed: int) -> list[Question]:
    """``n`` questions drawn with a fixed seed (all when there are fewer), in a stable order."""
    if n >= len(questions):
        return list(questions)
    return random.Random(seed).sample(list(questions), n)


def write_split(path: Path = DEFAULT_FILE, split_file: Path = SPLIT_FILE) -> dict:
    """Write ``eval/fquad_split.json``: the rule, the data file's hash and both lists of titles."""
    articles = load(path)
    fixed = {
        "data": "FQuAD 1.0 training split (Illuin Technology, CC BY-NC-SA 3.0), ../shared/data/fquad-train/",
        "sha256": file_hash(Path(path)),
        "rule": f"held out when int(sha256(title), 16) % {HELD_OUT_SHARE} == 0",
        "fit": [a.title for a in articles if not held_out(a.title)],
        "held_out": [a.title for a in articles if held_out(a.title)],
    }
    split_file.write_text(json.dumps(fixed, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return fixed


if __name__ == "__main__":
    written = write_split()
    print(f"{SPLIT_FILE} : {len(written['fit'])} articles d'ajustement, {len(written['held_out'])} réservés")
