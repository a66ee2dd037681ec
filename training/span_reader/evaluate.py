"""Measure the span reader: the reader alone given the gold paragraph, paragraph-removed questions, and its speed.

    python -m training.span_reader.evaluate [--artefact assistant/read/span] [--part calibration] [--questions 300]

- gold paragraph: the paragraph read in windows (:func:`training.span_reader.data.paragraph_windows`); the best span
  over the windows is the answer unless the lowest no-answer score beats it (threshold 0): SQuAD exact match and F1
  (French normalisation; an abstention scores 0), and the share of false abstentions;
- paragraph removed: the gold paragraph replaced by the article's 3 best BM25 paragraphs that do not contain the
  answer: the share of questions the reader refuses;
- speed: 5 windows × 192 tokens, torch fp32, warm median of 20 runs.

``--part held_out`` reads the held-out articles: only for a final measure, never while choosing anything.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import string
import sys
import time
from pathlib import Path

from training.span_reader.data import MAX_TOKENS, Lengths, paragraph_windows
from assistant.read.span import MAX_ANSWER_TOKENS, best_span  # the runtime's own decoding, measured as it answers
from training.span_reader.model import ARTEFACT, E5_FOLDER

SEED = 27
REMOVED_PARAGRAPHS = 3

# --- SQuAD scoring, French articles -----------------------------------------------------------------------------

_ELIDED = re.compile(r"\b[ld]['’]", re.IGNORECASE)
_ARTICLES = re.compile(r"\b(le|la|les|un|une|des|du|de)\b")
_PUNCTUATION = set(string.punctuation) | set("«»“”‘’…–—")


def normalize(text: str) -> str:
    """SQuAD's answer normalisation with French articles: lower case, l'/d' and le, la, les, un, une, des, du, de
    removed, punctuation removed, spaces collapsed."""
    text = _ELIDED.sub(" ", text.lower())
    text = "".join(" " if c in _PUNCTUATION else c for c in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def f1(prediction: str, gold: str) -> float:
    a, b = normalize(prediction).split(), normalize(gold).split()
    common = sum((collections.Counter(a) & collections.Counter(b)).values())
    if not a or not b:
        return float(a == b)
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def exact(prediction: str, gold: str) -> float:
    return float(normalize(prediction) == normalize(gold))


# --- reading ----------------------------------------------------------------------------------------------------


class SpanReader:
    """(question, window texts) → best span, its score and the lowest no-answer score, with torch."""

    def __init__(self, model, tokenizer, max_tokens: int = MAX_TOKENS):
        self.model, self.tokenizer, self.max_tokens = model, tokenizer, max_tokens
        self.measure = Lengths(tokenizer)

    def read(self, question: str, contexts: list[str]) -> dict:
        import torch

        if not contexts:
            return {"answer": "", "span_score": float("-inf"), "null_score": float("inf"), "margin": float("-inf")}
        encoded = self.tokenizer([question] * len(contexts), contexts, truncation="only_second",
                                 max_length=self.max_tokens, padding=True, return_offsets_mapping=True,
                                 return_tensors="pt")
        offsets = encoded.pop("offset_mapping").numpy()
        with torch.inference_mode():
            out = self.model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"])
        starts, ends = out.start_logits.float().numpy(), out.end_logits.float().numpy()
        best = (float("-inf"), "")
        null = float("inf")
        for n, context in enumerate(contexts):
            tokens = [t for t, s in enumerate(encoded.sequence_ids(n)) if s == 1]
            null = min(null, float(starts[n, 0] + ends[n, 0]))
            if not tokens:
                continue
            score, i, j = best_span(starts[n], ends[n], tokens, MAX_ANSWER_TOKENS)
            if score > best[0]:
                best = (score, context[offsets[n, i, 0]:offsets[n, j, 1]].strip())
        return {"answer": best[1], "span_score": best[0], "null_score": null, "margin": best[0] - null}

    def windows(self, question: str, text: str) -> list[str]:
        return [text[a:b] for a, b in paragraph_windows(question, text, self.measure, self.max_tokens)]


def gold_paragraph(reader: SpanReader, questions, text_of: dict[str, str], threshold: float = 0.0) -> dict:
    """EM, F1 and false abstentions of the reader given each question's gold paragraph."""
    em = f = abstained = 0.0
    for q in questions:
        result = reader.read(q.text, reader.windows(q.text, text_of[q.doc_id]))
        if result["margin"] <= threshold:
            abstained += 1
            continue
        em += max(exact(result["answer"], g) for g in q.answers)
        f += max(f1(result["answer"], g) for g in q.answers)
    n = max(len(questions), 1)
    return {"questions": len(questions), "em": round(em / n, 4), "f1": round(f / n, 4),
            "false_abstentions": round(abstained / n, 4)}


def removed_paragraph(reader: SpanReader, questions, articles, threshold: float = 0.0) -> dict:
    """The share of questions refused when the gold paragraph is replaced by the article's best BM25 paragraphs
    that do not contain the answer."""
    import bm25s

    from index.text import analyze, fold

    docs = [doc for article in articles for doc in article.paragraphs]
    article_of = {doc.doc_id: article.title for article in articles for doc in article.paragraphs}
    retriever = bm25s.BM25()
    retriever.index([analyze(doc.text) for doc in docs], show_progress=False)
    refused = asked = 0
    for q in questions:
        terms = analyze(q.text)
        if not terms:
            continue
        ids, _ = retriever.retrieve([terms], k=min(40, len(docs)), show_progress=False)
        folded = [fold(a) for a in q.answers]
        chosen = [docs[d] for d in ids[0] if docs[d].doc_id != q.doc_id and article_of[docs[d].doc_id] == q.article
                  and not any(a in fold(docs[d].text) for a in folded)][:REMOVED_PARAGRAPHS]
        if not chosen:
            continue
        contexts = [w for doc in chosen for w in reader.windows(q.text, doc.text)]
        asked += 1
        refused += reader.read(q.text, contexts)["margin"] <= threshold
    return {"questions": asked, "refused": round(refused / max(asked, 1), 4)}


def no_answer_accuracy(reader: SpanReader, windows) -> dict:
    """On single windows with a known label: span EM/F1 of the answerable ones, share of no-answer ones refused."""
    right = em = f = answerable = 0.0
    for w in windows:
        result = reader.read(w.question, [w.context])
        if w.answerable:
            answerable += 1
            if result["margin"] > 0:
                em += exact(result["answer"], w.answer)
                f += f1(result["answer"], w.answer)
        else:
            right += result["margin"] <= 0
    refusable = len(windows) - answerable
    return {"windows": len(windows), "window_em": round(em / max(answerable, 1), 4),
            "window_f1": round(f / max(answerable, 1), 4), "no_answer_accuracy": round(right / max(refusable, 1), 4)}


def speed(model, tokenizer, text: str, windows: int = 5, tokens: int = MAX_TOKENS, runs: int = 20) -> dict:
    """Warm median and p90 of one forward pass over ``windows`` windows of ``tokens`` tokens (torch fp32)."""
    import torch

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    ids = (ids * (tokens // max(len(ids), 1) + 1))[:tokens - 2]
    batch = torch.tensor([[tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]] * windows)
    mask = torch.ones_like(batch)
    times = []
    with torch.inference_mode():
        for _ in range(runs + 3):
            started = time.perf_counter()
            model(input_ids=batch, attention_mask=mask)
            times.append((time.perf_counter() - started) * 1000)
    times = sorted(times[3:])
    return {"windows": windows, "tokens": tokens, "p50_ms": round(statistics.median(times), 1),
            "p90_ms": round(times[int(0.9 * (len(times) - 1))], 1), "backend": "torch fp32",
            "threads": torch.get_num_threads(),
            "load_average": round(os.getloadavg()[0], 2)}  # other work on the machine slows it: say how much there was


# --- fixed samples ----------------------------------------------------------------------------------------------


def part_questions(part: str, n: int | None, seed: int = SEED):
    """The articles of an FQuAD part and ``n`` of its questions drawn with ``seed``."""
    from training.reader.fquad import DEFAULT_FILE, load, sample, split

    articles = split(load(DEFAULT_FILE), DEFAULT_FILE)[part]
    questions = [q for a in articles for q in a.questions]
    return articles, sample(questions, n, seed) if n else questions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artefact", type=Path, default=ARTEFACT)
    parser.add_argument("--part", choices=("calibration", "held_out"), default="calibration")
    parser.add_argument("--questions", type=int, default=300, help="questions drawn from the part (0: all)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import torch
    from transformers import AutoTokenizer

    from training.span_reader.model import load

    torch.set_num_threads(args.threads)
    if not (args.artefact / "provenance.json").is_file():
        print(f"Pas de lecteur entraîné dans {args.artefact} : lancez python -m training.span_reader.train.",
              file=sys.stderr)
        return 2
    tokenizer = AutoTokenizer.from_pretrained(str(E5_FOLDER))
    model = load(args.artefact)
    reader = SpanReader(model, tokenizer)
    articles, questions = part_questions(args.part, args.questions or None, args.seed)
    text_of = {doc.doc_id: doc.text for a in articles for doc in a.paragraphs}
    started = time.perf_counter()
    report = {"part": args.part, "artefact": str(args.artefact), "threshold": args.threshold,
              "gold_paragraph": gold_paragraph(reader, questions, text_of, args.threshold),
              "paragraph_removed": removed_paragraph(reader, questions, articles, args.threshold)}
    report["seconds"] = round(time.perf_counter() - started, 1)
    sample_text = text_of[questions[0].doc_id]
    report["speed"] = speed(model, tokenizer, sample_text)
    provenance = json.loads((args.artefact / "provenance.json").read_text(encoding="utf-8"))
    report["trained"] = {k: provenance.get(k) for k in ("steps", "windows_seen", "date", "sha256")}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        g, r, s = report["gold_paragraph"], report["paragraph_removed"], report["speed"]
        print(f"{args.part} : {g['questions']} questions, EM {g['em']:.3f}, F1 {g['f1']:.3f}, "
              f"abstentions à tort {g['false_abstentions']:.3f} ; paragraphe retiré : {r['refused']:.3f} refusées "
              f"({r['questions']}) ; {s['windows']} fenêtres × {s['tokens']} jetons : p50 {s['p50_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
