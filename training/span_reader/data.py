"""What the span reader reads: windows of text (≤ ``MAX_TOKENS`` tokens with the question) and where the answer lies.

A window is a run of whole sentences (a candidate sentence with its neighbours) cut from one paragraph or one record,
read after the question: ``<s> question </s></s> window </s>`` with e5's tokenizer. The answer is a character span of
the window, or nothing (no-answer: start = end = the ``<s>`` token, index 0, as in SQuAD 2.0).

Made from FQuAD's *train* articles (``eval/fquad_split.json``: the fit part minus its calibration articles; the
calibration and held-out articles are never read for training) and from the curated records:

- positive: the window centred on the sentence that holds the gold span, widened by neighbours while it fits;
- positive, tiled: the tile of the gold paragraph's tiling (as evaluation reads a paragraph) that holds the span,
  when it differs from the centred window;
- no-answer, same paragraph: a tile of the gold paragraph (long paragraphs make several) that does not hold the span;
- no-answer, retrieved: the best BM25 paragraph of the same article that does not contain the answer, read around
  its sentence closest to the question (what the retriever would hand the reader);
- no-answer, near miss: the question with its year, or a named entity it shares with the gold window, swapped for
  one that the window does not name, paired with the gold window (the answer no longer applies);
- records: question forms made from a field's French label about record X, with X's line (span = the value) and
  with record Y's line of the same field (no-answer).

Everything is drawn from one ``random.Random(seed)``: the same seed gives the same windows in the same order.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from index.chunking import split_sentences
from index.text import fold

MAX_TOKENS = 192  # question + window + 4 special tokens
SPECIAL_TOKENS = 4  # <s> question </s></s> window </s>
PREFIXES = ("", "")  # e5's "query: " / "passage: " were not used: the reader is a new head, not e5's similarity


@dataclass(frozen=True)
class Window:
    """One training or evaluation example: a question, a window of text, and the answer's place in it."""

    question: str
    context: str
    answer_start: int  # character offset in ``context``; -1 when the window does not answer the question
    answer: str  # "" for no-answer
    kind: str  # gold, paragraph, retrieved, near_year, near_entity, record, record_other
    qid: str

    @property
    def answerable(self) -> bool:
        return self.answer_start >= 0


# --- windows of sentences --------------------------------------------------------------------------------------


class Lengths:
    """Token counts of texts under e5's tokenizer (no special tokens), cached: sentences are measured once."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[str, int] = {}

    def __call__(self, texts: list[str]) -> list[int]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            encoded = self.tokenizer(missing, add_special_tokens=False)["input_ids"]
            self.cache.update({t: len(ids) for t, ids in zip(missing, encoded)})
        return [self.cache[t] for t in texts]


def sentences(text: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in split_sentences(text)]


def centred(lengths: list[int], centre: int, budget: int) -> tuple[int, int]:
    """Sentences ``[i, j)`` around ``centre``: the centre, then the previous and next ones in turn while they fit."""
    i, j, used = centre, centre + 1, lengths[centre]
    left = True
    while i > 0 or j < len(lengths):
        grew = False
        for side in ((True, False) if left else (False, True)):
            if side and i > 0 and used + lengths[i - 1] <= budget:
                i, used, grew = i - 1, used + lengths[i - 1], True
                break
            if not side and j < len(lengths) and used + lengths[j] <= budget:
                j, used, grew = j + 1, used + lengths[j], True
                break
        if not grew:
            break
        left = not left
    return i, j


def tiles(lengths: list[int], budget: int, overlap: int = 1) -> list[tuple[int, int]]:
    """Sentence runs ``[i, j)`` covering a whole text, each within ``budget`` tokens (a longer sentence alone),
    consecutive runs sharing ``overlap`` sentences so that no sentence is read only at a window's edge."""
    out, i = [], 0
    while i < len(lengths):
        j, used = i + 1, lengths[i]
        while j < len(lengths) and used + lengths[j] <= budget:
            used, j = used + lengths[j], j + 1
        out.append((i, j))
        if j >= len(lengths):
            break
        i = max(i + 1, j - overlap)
    return out


def budget_for(question: str, measure: Lengths, max_tokens: int = MAX_TOKENS) -> int:
    prefix = measure([PREFIXES[1]])[0] if PREFIXES[1] else 0
    return max_tokens - SPECIAL_TOKENS - measure([PREFIXES[0] + question])[0] - prefix


def paragraph_windows(question: str, text: str, measure: Lengths,
                      max_tokens: int = MAX_TOKENS) -> list[tuple[int, int]]:
    """The character ranges of the windows that read a whole paragraph for ``question`` (evaluation, inference)."""
    spans = sentences(text)
    if not spans:
        return []
    lengths = measure([text[a:b] for a, b in spans])
    return [(spans[i][0], spans[j - 1][1]) for i, j in tiles(lengths, budget_for(question, measure, max_tokens))]


# --- encoding ---------------------------------------------------------------------------------------------------


def encode(tokenizer, windows: list[Window], max_tokens: int = MAX_TOKENS) -> list[dict]:
    """Token ids and the answer's start and end token (0, 0 for no-answer) of each window.

    A window longer than ``max_tokens`` is cut at the end (only the window, never the question); a positive whose
    answer the cut removed is dropped (none with windows made by :func:`build`, which fit by construction).
    """
    encoded = tokenizer([PREFIXES[0] + w.question for w in windows], [PREFIXES[1] + w.context for w in windows],
                        truncation="only_second", max_length=max_tokens, return_offsets_mapping=True)
    out = []
    shift = len(PREFIXES[1])
    for n, w in enumerate(windows):
        ids = encoded["input_ids"][n]
        offsets = encoded["offset_mapping"][n]
        sequence = encoded.sequence_ids(n)
        start = end = 0
        if w.answerable:
            a, b = w.answer_start + shift, w.answer_start + len(w.answer) + shift
            context = [t for t, s in enumerate(sequence) if s == 1]
            starts = [t for t in context if offsets[t][0] <= a < offsets[t][1] or offsets[t][0] >= a]
            ends = [t for t in context if offsets[t][0] < b]
            if not starts or not ends or offsets[context[-1]][1] < b:
                continue  # the answer was cut off
            start, end = starts[0], ends[-1]
            if end < start:
                continue
        out.append({"input_ids": ids, "start_positions": start, "end_positions": end})
    return out


# --- near misses ------------------------------------------------------------------------------------------------

YEAR = re.compile(r"\b(1[5-9]\d\d|20[0-2]\d)\b")
ENTITY = re.compile(r"(?<![\w'’])[A-ZÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ][\w'’-]+"
                    r"(?:\s+(?:de\s+|du\s+|des\s+|d['’]|la\s+|le\s+)?"
                    r"[A-ZÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ][\w'’-]+)*")
QUESTION_WORDS = frozenset(fold(w) for w in (
    "Qui Que Quoi Quel Quelle Quels Quelles Quand Comment Combien Pourquoi Où Lequel Laquelle Lesquels Lesquelles "
    "Dans En Au Aux De Du Des Le La Les Un Une Selon Pour Par Sur Avec Sous Depuis Après Avant Entre Qu Est Il Elle "
    "Ils Elles Ce Cette Ces À A On Jusqu Lors Chez Vers Parmi Outre Hormis Malgré").split())


ELIDED = re.compile(r"^(?:c|qu|l|d|j|n|s|jusqu|lorsqu|puisqu)['’](.*)$", re.IGNORECASE)


def entities(text: str) -> list[str]:
    """Capitalised word runs, question words and sentence-initial function words left out (« C'est », « Qu'est »;
    « L'Inria » → « Inria »)."""
    out = []
    for match in ENTITY.finditer(text):
        words = match.group(0).split()
        while words:
            elided = ELIDED.match(words[0])
            if elided and (not elided.group(1)[:1].isupper() or fold(elided.group(1)) in QUESTION_WORDS):
                words = words[1:]
            elif elided:
                words[0] = elided.group(1)
            elif fold(words[0].rstrip("'’")) in QUESTION_WORDS:
                words = words[1:]
            else:
                break
        name = " ".join(words)
        if len(name) >= 3 and not name.isdigit() and not ELIDED.match(name):
            out.append(name)
    return out


def near_miss(question: str, window: str, pool: list[str], rng: random.Random) -> tuple[str, str] | None:
    """The question about another year or entity than the one it shares with ``window``, or None.

    Returns (new question, kind). Only a year or entity that the window names is swapped (so the swap changes what
    is asked about this window), and only for one the window does not name (so the window cannot answer it).
    """
    folded = fold(window)
    years = [m for m in YEAR.finditer(question) if m.group(0) in window]
    if years:
        m = rng.choice(years)
        year = int(m.group(0))
        choices = [y for y in range(max(1500, year - 60), min(2025, year + 60) + 1)
                   if y != year and str(y) not in window]
        if choices:
            return question[:m.start()] + str(rng.choice(choices)) + question[m.end():], "near_year"
    named = [e for e in entities(question) if fold(e) in folded]
    if not named:
        return None
    name = rng.choice(named)
    size = len(name.split())
    for _ in range(40):  # a few draws: the pool is large, almost any other name fits
        other = rng.choice(pool)
        words = other.split()
        if len(words) == size and fold(other) not in folded and fold(other) != fold(name) \
                and not any(fold(w) in folded for w in words if len(w) > 3):
            return question.replace(name, other, 1), "near_entity"
    return None


# --- FQuAD windows ----------------------------------------------------------------------------------------------


def fquad_windows(articles, measure: Lengths, rng: random.Random, questions: int | None = None,
                  max_tokens: int = MAX_TOKENS,
                  kinds: tuple[str, ...] = ("gold", "tile", "paragraph", "retrieved", "near")) -> list[Window]:
    """Windows from FQuAD articles (see the module's docstring); ``questions`` caps the questions drawn."""
    import bm25s

    from index.text import analyze, term_set

    docs = [doc for article in articles for doc in article.paragraphs]
    article_of = {doc.doc_id: article.title for article in articles for doc in article.paragraphs}
    text_of = {doc.doc_id: doc.text for doc in docs}
    retriever = bm25s.BM25()
    retriever.index([analyze(doc.text) for doc in docs], show_progress=False)
    pool = sorted({e for article in articles for q in article.questions for e in entities(q.text)})
    chosen = [q for article in articles for q in article.questions]
    if questions is not None and questions < len(chosen):
        chosen = rng.sample(chosen, questions)
    out: list[Window] = []
    for q in chosen:
        text = text_of[q.doc_id]
        answer = q.answers[0]
        if text[q.start:q.start + len(answer)] != answer:
            continue  # a misplaced gold offset
        spans = sentences(text)
        lengths = measure([text[a:b] for a, b in spans])
        budget = budget_for(q.text, measure, max_tokens)
        gold = next((n for n, (a, b) in enumerate(spans) if a <= q.start < b), None)
        if gold is None or spans[gold][1] < q.start + len(answer):
            continue  # an answer across two sentences: rare, left out
        i, j = centred(lengths, gold, budget)
        lo, hi = spans[i][0], spans[j - 1][1]
        if lengths[gold] > budget:  # one sentence longer than the window: cut around the answer
            lo, hi = _cut(text, spans[gold], q.start, q.start + len(answer), budget, measure)
        if "gold" in kinds:
            out.append(Window(q.text, text[lo:hi], q.start - lo, answer, "gold", q.id))
        if "tile" in kinds:  # the answer as the paragraph's tiling reads it (evaluation, inference), off-centre
            held = [(spans[a][0], spans[b - 1][1]) for a, b in tiles(lengths, budget) if a <= gold < b]
            held = [(a, b) for a, b in held if (a, b) != (lo, hi) and lengths[gold] <= budget]
            if held:
                a, b = rng.choice(held)
                out.append(Window(q.text, text[a:b], q.start - a, answer, "tile", q.id))
        folded_answer = fold(answer)
        if "paragraph" in kinds:
            others = [(spans[a][0], spans[b - 1][1]) for a, b in tiles(lengths, budget)
                      if folded_answer not in fold(text[spans[a][0]:spans[b - 1][1]])]
            if others:
                a, b = rng.choice(others)
                out.append(Window(q.text, text[a:b], -1, "", "paragraph", q.id))
        if "retrieved" in kinds:
            terms = analyze(q.text)
            if terms:
                ids, _ = retriever.retrieve([terms], k=min(25, len(docs)), show_progress=False)
                for d in ids[0]:
                    doc = docs[d]
                    if doc.doc_id == q.doc_id or article_of[doc.doc_id] != q.article or folded_answer in fold(doc.text):
                        continue
                    window = _around_best(doc.text, term_set(q.text), measure, budget)
                    if window:
                        out.append(Window(q.text, window, -1, "", "retrieved", q.id))
                    break
        if "near" in kinds:
            swapped = near_miss(q.text, text[lo:hi], pool, rng)
            if swapped:
                out.append(Window(swapped[0], text[lo:hi], -1, "", swapped[1], q.id))
    return out


def _around_best(text: str, terms: frozenset[str], measure: Lengths, budget: int) -> str | None:
    """The window centred on the sentence sharing most terms with the question."""
    from index.text import term_set

    spans = sentences(text)
    if not spans:
        return None
    best = max(range(len(spans)), key=lambda n: (len(terms & term_set(text[spans[n][0]:spans[n][1]])), -n))
    lengths = measure([text[a:b] for a, b in spans])
    i, j = centred(lengths, best, budget)
    if lengths[best] > budget:
        a, b = spans[best]
        return text[a:b]  # cut by the encoder's truncation
    return text[spans[i][0]:spans[j - 1][1]]


def _cut(text: str, span: tuple[int, int], a: int, b: int, budget: int, measure: Lengths) -> tuple[int, int]:
    """A character range of the sentence ``span`` holding ``[a, b)`` and at most ``budget`` tokens (word cuts)."""
    lo, hi = span
    words = [m.span() for m in re.finditer(r"\S+", text[lo:hi])]
    words = [(x + lo, y + lo) for x, y in words]
    first = next(n for n, (x, y) in enumerate(words) if y > a)
    last = max(n for n, (x, y) in enumerate(words) if x < b)
    i, j = first, last + 1
    while True:
        grew = False
        if i > 0 and measure([text[words[i - 1][0]:words[j - 1][1]]])[0] <= budget:
            i, grew = i - 1, True
        if j < len(words) and measure([text[words[i][0]:words[j][1]]])[0] <= budget:
            j, grew = j + 1, True
        if not grew:
            break
    return words[i][0], words[j - 1][1]


# --- record windows ---------------------------------------------------------------------------------------------

NEUTRAL_FORMS = ("{Label} {of} ?", "{Label} {of}", "{Name} : {label} ?")
ARTICLE_FORMS = ("{Quel} {le}{label} {of} ?", "Peux-tu me donner {le}{label} {of} ?", "Je cherche {le}{label} {of}.")
NOT_NOUNS = frozenset({"a dirigé", "coordonne", "finance", "porte", "soutient", "co-pilote", "voir aussi"})
FEMININE_ENDINGS = ("ion", "ée", "té", "ure", "ance", "ence", "ie", "ise", "lle", "ate", "ine", "ase", "ite", "ce")


def record_question(label: str, name: str, form: str) -> str:
    """A question about one field of a record, with the label's gender and number guessed from its first word (the
    labels are short French nouns: « date de création », « partenaires »), e.g. « Quelle est la date de création
    du GDR IA ? »."""
    from corpus.fields import of

    first = label.split()[0]
    plural = first.endswith(("s", "x")) and first != "accès"
    feminine = first.endswith(FEMININE_ENDINGS) and first not in ("site",)
    if plural:
        quel, le = ("Quelles sont" if feminine else "Quels sont"), "les "
    else:
        quel = "Quelle est" if feminine else "Quel est"
        le = "l'" if first[0].lower() in "aeiouyéèêàâîôû" else ("la " if feminine else "le ")
    question = form.format(label=label, Label=label[0].upper() + label[1:], of=of(name), Name=name, Quel=quel, le=le)
    return question[0].upper() + question[1:]


def record_windows(measure: Lengths, rng: random.Random, forms: int = 2, max_tokens: int = MAX_TOKENS) -> list[Window]:
    """Question forms per fact field about record X, with X's line (span = the fact's value) and with record Y's
    line of the same field (no-answer). Facts with several values (two lines, two right answers) are left out."""
    from assistant.indexing import load_corpus_from_settings
    from assistant.settings import Settings
    from corpus.fields import label

    documents, _ = load_corpus_from_settings(Settings())
    lines = []  # (record id, name, field, value, text, line start, line)
    for doc in documents:
        if doc.kind != "record":
            continue
        fields = doc.metadata.get("fields", {})
        values = doc.metadata.get("values", {})
        several = doc.metadata.get("groups", {})
        for line, field in fields.items():
            value = values.get(line)
            at = doc.text.find(line)
            if not value or at < 0 or value not in line or line in several or field in ("description", "aliases"):
                continue
            lines.append((doc.doc_id, doc.metadata["names"][0], field, value, doc.text, at, line))
    by_field: dict[str, list] = {}
    for line in lines:
        by_field.setdefault(line[2], []).append(line)
    out = []
    for record, name, field, value, text, at, line in lines:
        words = label(field)
        choices = NEUTRAL_FORMS + (() if words in NOT_NOUNS or words.endswith(" de") else ARTICLE_FORMS)
        for form in rng.sample(choices, forms):
            question = record_question(words, name, form)
            budget = budget_for(question, measure, max_tokens)
            window = _record_window(text, at, measure, budget)
            if window is None:
                continue
            lo, hi = window
            start = text.find(value, at) - lo
            out.append(Window(question, text[lo:hi], start, value, "record", f"{record}:{field}"))
            others = [x for x in by_field[field] if x[0] != record and fold(value) not in fold(x[6])]
            if others:
                other = rng.choice(others)
                window = _record_window(other[4], other[5], measure, budget)
                if window and fold(value) not in fold(other[4][window[0]:window[1]]):
                    out.append(Window(question, other[4][window[0]:window[1]], -1, "", "record_other",
                                      f"{record}:{field}"))
    return out


def _record_window(text: str, at: int, measure: Lengths, budget: int) -> tuple[int, int] | None:
    spans = sentences(text)
    centre = next((n for n, (a, b) in enumerate(spans) if a <= at < b), None)
    if centre is None:
        return None
    lengths = measure([text[a:b] for a, b in spans])
    if lengths[centre] > budget:
        return None
    i, j = centred(lengths, centre, budget)
    return spans[i][0], spans[j - 1][1]


# --- the training set -------------------------------------------------------------------------------------------


def build(tokenizer, articles, seed: int, questions: int | None = None, records: bool = True,
          max_tokens: int = MAX_TOKENS) -> list[Window]:
    """Every training window, shuffled: FQuAD's windows from ``articles`` then the records', from one seed."""
    rng = random.Random(seed)
    measure = Lengths(tokenizer)
    windows = fquad_windows(articles, measure, rng, questions, max_tokens)
    if records:
        windows += record_windows(measure, rng, max_tokens=max_tokens)
    rng.shuffle(windows)
    return windows


def fingerprint(windows: list[Window]) -> str:
    """sha256 of the windows in order: a resumed run checks that it reads the same data."""
    digest = hashlib.sha256()
    for w in windows:
        digest.update(json.dumps(asdict(w), ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def summary(windows: list[Window]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in windows:
        counts[w.kind] = counts.get(w.kind, 0) + 1
    return dict(sorted(counts.items()))


def save(windows: list[Window], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for w in windows:
            f.write(json.dumps(asdict(w), ensure_ascii=False) + "\n")
