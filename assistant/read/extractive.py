"""Extractive answering: choose the retrieved sentences that best answer the question, cite them verbatim."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np

from assistant.compose.answer import ABSTAIN_EN, ABSTAIN_FR, Answer, Citation
from assistant.decide.premises import Evidence, unsupported_premise
from assistant.retrieve.hybrid import Hit
from corpus.injection import addresses_assistant
from index.build import LoadedIndex
from assistant.decide.agreement import (DISAGREEMENT_EN, DISAGREEMENT_FR, attributed, contradiction, corroboration,
                                 disagreeing, headline_figure, without_repeats)
from assistant.compose.definitions import Definitions
from assistant.compose.records import record_field, record_group, record_value
from assistant.decide.figures import stated_figure
from assistant.query.wording import ParsedQuestion, field_asked, parsed, type_match
from index.text import analyze, analyze_words, fold, term_set

# Cosine similarities of a query with its best sentence, mapped to [0, 1]: below ``low`` the
# match is noise, above ``high`` it is as good as it gets. Per embedder, since their scales differ.
DENSE_SCALE = {"e5": (0.80, 0.93), "sentence-transformers": (0.25, 0.75)}


def weighted_confidence(signals: dict, dense_weight: float, unknown_penalty: float, unsupported_penalty: float) -> float:
    """``w·dense + (1−w)·coverage − p·unknown_share − q·unsupported``: the answerer's confidence, and the
    quantity ``assistant eval --calibrate`` fits its weights for."""
    return (dense_weight * signals["dense"] + (1 - dense_weight) * signals["coverage"]
            - unknown_penalty * signals["unknown_share"] - unsupported_penalty * signals.get("unsupported", 0.0))


@dataclass
class Candidate:
    hit: Hit
    text: str
    score: float
    dense: float
    coverage: float
    reader: float | None = None  # the learned reader's probability that the sentence answers, when it read it
    # What the score was made of, for the learned ranker (assistant/read/ranker.py) and for fitting it.
    features: dict = field(default_factory=dict)


# How a sentence is scored (tuned on eval/dev_qa.jsonl by bench/tune_sentence_weights.py).
SENTENCE_WEIGHTS = {"dense": 0.45, "coverage": 0.35, "type": 0.12, "rank": 0.08, "subject": 0.1, "field": 0.15}


class ExtractiveAnswerer:
    """Builds a short answer from verbatim sentences of the retrieved passages.

    Args:
        index: The loaded index (sentence vectors, BM25 statistics).
        backend: Embedder backend name, to pick the similarity scale.
        max_sentences: Most sentences in an answer.
        min_confidence: Below this confidence the answer abstains.
    """

    def __init__(self, index: LoadedIndex, backend: str, *, max_sentences: int = 3, min_confidence: float = -0.8998,
                 dense_weight: float = 1.0, unknown_penalty: float = 3.0, unsupported_penalty: float = 2.0,
                 min_dense_english: float = 0.2074, reader: str = "rules", reader_shortlist: int = 20,
                 min_reader: float | None = None):
        self.index = index
        self.low, self.high = DENSE_SCALE.get(backend, (0.0, 1.0))
        self.max_sentences = max_sentences
        self.min_confidence = min_confidence
        self.dense_weight = dense_weight
        self.unknown_penalty = unknown_penalty
        # An answer whose sentences do not state what the question asks or restricts to (see premises.py).
        self.unsupported_penalty = unsupported_penalty
        # English questions cannot be judged by unknown words (all are unknown to a French corpus):
        # they must reach this sentence similarity instead.
        self.min_dense_english = min_dense_english
        self.weights = dict(SENTENCE_WEIGHTS)
        # The learned reader (assistant/reader) re-scores the best sentences by the weights above; its probability
        # then ranks them and decides abstention.
        self.reader = self.ranker = None
        self.second_ratio = 0.9  # a second sentence nearly as good as the best joins it
        if reader == "learned":
            from assistant.read.learned import Reader
            from assistant.read.ranker import Ranker

            self.reader, self.ranker = Reader.shared(), Ranker.load()
            self.second_ratio = self.ranker.second_ratio
            self.unsupported_penalty = self.ranker.premise_penalty
        self.reader_shortlist = reader_shortlist
        self.min_reader = self.ranker.min_probability if self.ranker is not None and min_reader is None else min_reader
        self.min_reader_set = min_reader  # a threshold set by hand replaces the question-level model
        # A fiche line is judged against its whole record (all its fields), a document sentence against its passage.
        self.record_texts: dict[str, str] = {}
        for chunk in index.chunks:
            if chunk.kind == "record":
                self.record_texts[chunk.doc_id] = f"{self.record_texts.get(chunk.doc_id, '')} {chunk.text}"
        self.definitions = Definitions(index.chunks)
        # Sentences that address the assistant (« ignore tes instructions… »), by chunk: never quoted.
        self.addressing: dict[str, set[int]] = {}
        for chunk in index.chunks:
            flagged = {i for i, s in enumerate(chunk.sentence_texts()) if addresses_assistant(s) is not None}
            if flagged:
                self.addressing[chunk.chunk_id] = flagged

    def answer(self, question: str | ParsedQuestion, query: str, hits: list[Hit], query_vector: np.ndarray | None,
               extra_hits: list[Hit] = ()) -> Answer:
        """Answer ``question`` from ``hits`` (retrieved with ``query``, which may carry earlier turns).

        ``question`` is read once (a :class:`ParsedQuestion`, built here when given as text); ``extra_hits``
        (the next-ranked passages) are searched only for a corroborating sentence.
        """
        question = parsed(question, query)
        english = question.english
        if question.refusal:
            return self._abstain(question, english, 0.0, {"refused": question.refusal})
        if not analyze_words(query):  # « ??? », « le la les »: nothing to look for
            return self._abstain(question, english, 0.0, {"refused": "question sans contenu"})
        subject, rest = split_definition(question.definition)
        if subject or question.summary:
            record = self.definitions.named_record(subject or question.text)
            if record is not None:
                definition = self._whole(question, self.definitions.definition(record, self.max_sentences),
                                         {"intent": "definition", "record": record})
                if rest is None:
                    return definition
                # « Qu'est-ce que le GDR IA et quand a-t-il été créé ? »: its definition, then the fact asked
                return _joined(definition, self._facts(question, query, hits, query_vector, extra_hits))
            document = next((h.chunk.doc_id for h in [*hits, *extra_hits] if h.chunk.kind == "document"), None)
            if document is not None and question.summary:
                return self._whole(question, self.definitions.summary(document),
                                   {"intent": "summary", "document": document})
        return self._facts(question, query, hits, query_vector, extra_hits)

    def _facts(self, question: ParsedQuestion, query: str, hits: list[Hit], query_vector: np.ndarray | None,
               extra_hits: list[Hit]) -> Answer:
        """The sentences that state what the question asks, with every value and source that bears on it."""
        english = question.english
        candidates = self._candidates(question, query, hits, query_vector)
        if candidates and self.ranker is not None:
            candidates = self._read(question, candidates)
        if candidates and question.latest:
            candidates = _prefer_recent(candidates)
        if not candidates:
            return self._abstain(question, english, 0.0, {})
        best = candidates[0]
        chosen = self._choose(question, candidates)
        premise = unsupported_premise(question, [self._evidence(c) for c in chosen])
        signals = {"dense": round(best.dense, 4), "coverage": round(best.coverage, 4), "english": english,
                   "unknown_share": round(0.0 if english else self.unknown_share(question), 4),
                   "unsupported": 1.0 if premise else 0.0}
        if premise:
            signals["premise"] = premise
        if best.reader is not None and self.ranker.abstention is not None and self.min_reader_set is None:
            # the question-level model: does the corpus answer this question at all?
            from assistant.read.ranker import question_features

            shortlist = [c for c in candidates if c.reader is not None]
            alone = premise if len(chosen) == 1 else unsupported_premise(question, [self._evidence(best)])
            row = question_features(np.array([c.reader for c in shortlist]), [c.features for c in shortlist],
                                    alone is not None)
            signals["reader"] = round(best.reader, 4)
            confidence = round(self.ranker.abstention.probability(row), 4)
            signals["answerable"] = confidence
            threshold = self.ranker.abstention.threshold
        elif best.reader is not None:
            signals["reader"] = round(best.reader, 4)
            confidence = round(best.reader - self.unsupported_penalty * signals["unsupported"], 4)
            threshold = self.min_reader
        else:
            confidence, threshold = self.confidence(signals), self.min_confidence
        # the learned ranker's probability already weighs how close the sentence is: no floor of its own for English
        floor = english and self.ranker is None and signals["dense"] < self.min_dense_english
        if confidence < threshold or floor:
            return self._abstain(question, english, confidence, signals)
        kind = question.kind
        key = headline_figure(best)
        # score only the next passages that could agree (the headline figure) or disagree (a figure of the kind asked)
        extra = [h for h in extra_hits if (key and key in h.chunk.text) or stated_figure(h.chunk.text, kind, question)]
        pool = candidates + (self._candidates(question, query, extra, query_vector) if extra else [])
        query_terms = dict.fromkeys(analyze(query) if query != question.query else question.query_terms)
        about = [c for c in pool if _same_subject(c, best, query_terms)]
        if not question.latest:  # « actuelle »: the latest value is what is asked, not its history
            chosen = chosen + self._other_values(question, kind, chosen)
        differing = contradiction(best, kind, question, about, chosen)
        if differing is not None:
            chosen.append(differing)
        elif (agreeing := corroboration(best, key, about, chosen, kind, question)) is not None:
            chosen.append(agreeing)
        chosen, replaced = without_repeats(chosen, kind, question)
        answer = self._compose(question, chosen, confidence,
                               disagreement=disagreeing(chosen, best, differing, replaced))
        answer.signals = signals
        return answer

    def _whole(self, question: ParsedQuestion, sentences: list, signals: dict) -> Answer:
        """An answer made of given (chunk, sentence) pairs: a definition or a summary."""
        if not sentences:
            return self._abstain(question, question.english, 0.0, signals)
        answer = self._compose(question, [Candidate(Hit(chunk, 1.0), s, 1.0, 1.0, 1.0) for chunk, s in sentences], 1.0)
        answer.signals = signals
        return answer

    def _other_values(self, question: ParsedQuestion, kind: str | None, chosen: list[Candidate]) -> list[Candidate]:
        """For a fiche line that answers the question (of a field the question asks for, or giving the kind of
        value it asks for) and states one value of a fact that has several, the lines of its other values."""
        added = []
        asked = question.fields
        for c in chosen:
            chunk = c.hit.chunk
            value = record_value(chunk, c.text) or c.text  # the datum itself, not its « (selon …, mars 2025) »
            if not field_asked(record_field(chunk, c.text)[0], asked) and not _gives_asked_value(value, kind, question):
                continue  # a side sentence: its fact was not asked for
            group = record_group(chunk, c.text)
            if group is None:
                continue
            for other in self.definitions.chunks_of[chunk.doc_id]:
                for sentence in other.sentence_texts():
                    if record_group(other, sentence) == group and all(sentence != o.text for o in chosen + added):
                        added.append(Candidate(Hit(other, c.hit.score), sentence, c.score, c.dense, c.coverage))
        return added

    def _choose(self, question: ParsedQuestion, candidates: list[Candidate]) -> list[Candidate]:
        """The best sentence, those nearly as good that say something else, and one per other part asked."""
        best = candidates[0]
        chosen = [best]
        for c in candidates[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if c.score >= self.second_ratio * best.score and not any(_same_statement(c, o) for o in chosen):
                chosen.append(c)
        return chosen + _other_asked_fields(question, best, candidates, chosen)

    def _evidence(self, c: Candidate) -> Evidence:
        chunk = c.hit.chunk
        body = self.record_texts.get(chunk.doc_id, chunk.text)
        context = f"{chunk.title} {chunk.section} {chunk.metadata.get('keywords', '')} {body}"
        return Evidence(c.text, record_field(chunk, c.text)[0], context,
                        chunk.title if chunk.kind == "record" else "")

    def _read(self, question: ParsedQuestion, candidates: list[Candidate]) -> list[Candidate]:
        """The ``reader_shortlist`` best candidates by the simple scores, ranked by the learned ranker's probability
        (the reader's score with the evidence above); the rest after them."""
        shortlist, rest = self.read(question, candidates)
        from assistant.read.ranker import matrix

        probabilities = self.ranker.probabilities(matrix([c.features for c in shortlist],
                                                         [c.features["reader"] for c in shortlist]))
        for c, p in zip(shortlist, probabilities):
            c.reader = c.score = float(p)
        for c in rest:
            c.score = 0.0
        return sorted(shortlist, key=lambda c: -c.score) + rest

    def read(self, question: str | ParsedQuestion, candidates: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        """The shortlist (its reader logits in ``features["reader"]``) and the candidates left out of it."""
        shortlist, rest = candidates[: self.reader_shortlist], candidates[self.reader_shortlist:]
        logits = self.reader.logits(str(question), [(c.hit.chunk.title, c.text) for c in shortlist])
        for c, logit in zip(shortlist, logits):
            c.features["reader"] = float(logit)
        return shortlist, rest

    def candidates(self, question: str | ParsedQuestion, query: str, hits: list[Hit],
                   query_vector: np.ndarray | None) -> list[Candidate]:
        """Every sentence of ``hits``, best first by the simple scores, with what each score was made of."""
        return self._candidates(parsed(question, query), query, hits, query_vector)

    def confidence(self, signals: dict) -> float:
        """How sure the best sentence answers the question; the weights are fitted by ``assistant eval --calibrate``."""
        return round(weighted_confidence(signals, self.dense_weight, self.unknown_penalty, self.unsupported_penalty), 4)

    def unknown_share(self, question: str | ParsedQuestion) -> float:
        """Share of the question's weight carried by words the corpus never uses (« salaire », « marine »…).

        Not computed for English questions: their words are unknown to a French corpus by nature.
        """
        lexical = self.index.lexical
        variants = list(dict.fromkeys(analyze_words(str(question))))
        if not variants:
            return 0.0
        rarest = lexical.idf_unknown()
        weights = [(max(lexical.idf(t) for t in forms) or rarest, all(lexical.idf(t) == 0 for t in forms))
                   for forms in variants]
        return sum(w for w, unknown in weights if unknown) / sum(w for w, _ in weights)

    def _candidates(self, question: ParsedQuestion, query, hits, query_vector) -> list[Candidate]:
        lexical = self.index.lexical
        terms = dict.fromkeys(analyze(query) if query != question.query else question.query_terms)
        own_terms = set(question.terms)
        # Coverage counts only words the corpus knows: an unknown word can be covered by no sentence,
        # and how much of the question is unknown is a separate signal (see ``unknown_share``).
        weights = {t: lexical.idf(t) * (1.0 if t in own_terms else 0.5) for t in terms if lexical.idf(t) > 0}
        total = sum(weights.values()) or 1.0
        kind = question.kind
        fields = question.fields
        definitional = question.definitional
        out = []
        for rank, hit in enumerate(hits):
            chunk = hit.chunk
            context = term_set(f"{chunk.title} {chunk.section} {chunk.metadata.get('keywords', '')}")
            subject = _subject_precision(chunk, terms)
            mine: list[tuple[int, Candidate]] = []
            coverages, cosines = [], []
            for i, sentence in enumerate(chunk.sentence_texts()):
                present = term_set(sentence)
                covered = sum(w * (1.0 if t in present else 0.6 if t in context else 0.0) for t, w in weights.items())
                coverage = covered / total
                dense = cos = 0.0
                if query_vector is not None and chunk.sentence_rows:
                    cos = float(self.index.sentence_vectors[chunk.sentence_rows[i]] @ query_vector)
                    dense = min(max((cos - self.low) / (self.high - self.low), 0.0), 1.0)
                coverages.append(coverage)
                cosines.append(cos)
                if chunk.chunk_id in self.addressing and i in self.addressing[chunk.chunk_id]:
                    continue  # it speaks to the assistant: never an answer
                elif query_vector is None:
                    dense = coverage  # BM25-only retrieval: lexical evidence stands for both
                w = self.weights
                field_name = record_field(chunk, sentence)[0]
                field_match = 1.0 if field_asked(field_name, fields) else 0.0
                score = (w["dense"] * dense + w["coverage"] * coverage + w["type"] * type_match(kind, sentence)
                         + w["rank"] / (1 + rank) + w["subject"] * subject + w["field"] * field_match)
                features = {"dense": dense, "coverage": coverage, "type": float(type_match(kind, sentence)),
                            "rank": 1 / (1 + rank), "subject": subject, "field": field_match,
                            "cosine": cos if query_vector is not None and chunk.sentence_rows else 0.0,
                            "passage_dense": hit.dense_score, "passage_bm25": 1 / hit.bm25_rank if hit.bm25_rank else 0.0,
                            "position": 1 / (1 + i), "record": float(chunk.kind == "record"),
                            "short": 0.0, "alias": 0.0}
                if len(sentence) < 25 or sentence.startswith(("http://", "https://")):
                    score *= 0.5
                    features["short"] = 1.0
                elif not definitional and field_name == "aliases":
                    score *= 0.6  # « X est aussi appelé Y » answers only « qu'est-ce que Y ? »
                    features["alias"] = 1.0
                features["rules"] = score
                mine.append((i, Candidate(hit, sentence, score, dense, coverage, features=features)))
            for i, c in mine:
                # what its neighbours say: « Il a été inauguré en 2020. » answers when the sentence before names « Jean Zay »
                near = [j for j in (i - 1, i + 1) if 0 <= j < len(coverages)]
                c.features["context_coverage"] = max((coverages[j] for j in near), default=0.0)
                c.features["context_cosine"] = max((cosines[j] for j in near), default=0.0)
                out.append(c)
        out.sort(key=lambda c: -c.score)
        return out

    def _compose(self, question: ParsedQuestion, chosen: list[Candidate], confidence: float,
                 disagreement: list[str] | None = None) -> Answer:
        """The answer text (each quote followed by its marker) and its citations. When sources disagree, a lead
        says so and each differing quote says whose it is, unless its own words already do (« selon … »)."""
        citations: list[Citation] = []
        by_chunk: dict[tuple[str, str], int] = {}
        parts = []
        english = question.english
        named: set[str] = set()
        for c in chosen:
            chunk = c.hit.chunk
            key = (chunk.chunk_id, c.text)
            field, source = record_field(chunk, c.text)
            if key not in by_chunk:
                by_chunk[key] = len(citations) + 1
                citations.append(
                    Citation(
                        n=by_chunk[key], doc_id=chunk.doc_id, title=chunk.title, source=source or chunk.source,
                        chunk_id=chunk.chunk_id, quote=c.text, score=round(c.score, 4), field=field,
                    )
                )
            shown = " ".join(c.text.split())
            if field == "description" and chunk.doc_id not in named:
                named.add(chunk.doc_id)  # a definition says what, not whom: « LISN : Laboratoire de sciences du… »
                name = chunk.metadata.get("names", [chunk.title])[0]
                if fold(name) not in fold(shown):
                    shown = f"{chunk.title} : {shown}"
            if disagreement and c.text in disagreement:
                shown = attributed(shown, citations[by_chunk[key] - 1], chunk, english)
            parts.append(f"{shown} [{by_chunk[key]}]")
        text = " ".join(parts)
        if disagreement:
            text = f"{DISAGREEMENT_EN if english else DISAGREEMENT_FR} {text}"
        answer = Answer(question=question.text, answer=text, abstained=False, citations=citations, confidence=confidence)
        if disagreement:
            answer.disagreement = sorted({by_chunk[(c.hit.chunk.chunk_id, c.text)] for c in chosen
                                          if c.text in disagreement})
        return answer

    @staticmethod
    def _abstain(question: str | ParsedQuestion, english: bool, confidence: float, signals: dict) -> Answer:
        answer = Answer(question=str(question), answer=ABSTAIN_EN if english else ABSTAIN_FR,
                        abstained=True, confidence=confidence)
        answer.signals = signals
        return answer


_AND_THEN = re.compile(r"^(.+?),?\s+et\s+((?:quand|qui|ou|où|combien|quel\w*|comment|pourquoi|depuis|when|who|where|how|"
                       r"which|what)\b.*)$")


def split_definition(target: str | None) -> tuple[str | None, str | None]:
    """« le gdr ia et quand a-t-il été créé » → (« le gdr ia », « quand a-t-il été créé »); no second part → None."""
    if target is None:
        return None, None
    match = _AND_THEN.match(target)
    return (match.group(1), match.group(2)) if match else (target, None)


def _joined(first: Answer, second: Answer) -> Answer:
    """Two answers as one: the second's sentences follow, renumbered, those already quoted left out."""
    if second.abstained:
        return first
    quoted = {c.quote for c in first.citations}
    numbers: dict[int, int] = {}
    citations = list(first.citations)
    for c in second.citations:
        if c.quote not in quoted:
            numbers[c.n] = len(citations) + 1
            citations.append(dataclasses.replace(c, n=numbers[c.n]))
    parts = [p for p in re.findall(r".+?\[\d+\]", second.answer) if int(re.search(r"\[(\d+)\]$", p).group(1)) in numbers]
    text = " ".join([first.answer] + [re.sub(r"\[(\d+)\]$", lambda m: f"[{numbers[int(m.group(1))]}]", p.strip())
                                      for p in parts])
    return dataclasses.replace(first, answer=text, citations=citations, confidence=min(first.confidence, second.confidence),
                               signals={**second.signals, "intent": "definition+fact"})


def _gives_asked_value(sentence: str, kind: str | None, question: ParsedQuestion) -> bool:
    """The sentence gives the kind of value asked: an amount, a date, a share, a duration, or a count of the very
    thing counted (« combien de clusters » → « neuf clusters », not « 400 M€ »). Names are too loosely recognised
    (« Jean Zay ») to tell a person apart."""
    if kind == "number":
        return stated_figure(sentence, kind, question) is not None
    return kind in ("money", "date", "share", "duration") and bool(type_match(kind, sentence))


def _subject_precision(chunk, terms) -> float:
    """For a record, the share of its name's words that the query uses: the call « Fondements
    mathématiques du PEPR IA » is a worse subject than the programme « PEPR IA » for « budget du PEPR IA »."""
    if chunk.kind != "record":
        return 0.5
    name = analyze(chunk.title.split(" (")[0])
    return sum(t in terms for t in name) / len(name) if name else 0.0


def _same_statement(a: Candidate, b: Candidate) -> bool:
    """Two sentences saying the same thing: same text, or the same record field twice."""
    if a.text == b.text:
        return True
    ca, cb = a.hit.chunk, b.hit.chunk
    if ca.kind == cb.kind == "record" and ca.doc_id == cb.doc_id:
        return _field_meaning(record_field(ca, a.text)[0]) == _field_meaning(record_field(cb, b.text)[0])
    return False


def _same_subject(c: Candidate, best: Candidate, query_terms: dict) -> bool:
    """A corroborating sentence must be about what the best one is about, or about something the question
    names: sharing « 2021 » does not make INS2I's director a confirmation of AISSAI's."""
    chunk = c.hit.chunk
    if chunk.doc_id == best.hit.chunk.doc_id or chunk.kind == "document":
        return True
    return _subject_precision(chunk, query_terms) >= 0.5


def _field_meaning(field: str | None) -> str | None:
    """« relations.operator » says what « operator » says; « relations.lead » what « lead_institution » says."""
    if field is None:
        return None
    name = field.removeprefix("relations.")
    return {"lead": "lead_institution", "coordinator": "coordinators", "director": "head"}.get(name, name)


def _other_asked_fields(question: ParsedQuestion, best: Candidate, candidates: list[Candidate],
                        chosen: list[Candidate]) -> list[Candidate]:
    """When the question asks two things (« qui porte X et de quelle somme est-il doté ? »), the best
    sentence of the same subject for each thing not yet answered."""
    groups = question.field_groups
    if len(groups) < 2:
        return []
    subject = best.hit.chunk.doc_id
    answered = {record_field(c.hit.chunk, c.text)[0] for c in chosen}
    added = []
    for group in groups:
        if group & answered:
            continue
        for c in candidates:
            if c.hit.chunk.doc_id == subject and record_field(c.hit.chunk, c.text)[0] in group \
                    and c.score >= 0.6 * best.score and all(c.text != o.text for o in chosen + added):
                added.append(c)
                answered.add(record_field(c.hit.chunk, c.text)[0])
                break
    return added


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def _prefer_recent(candidates: list[Candidate]) -> list[Candidate]:
    """For « actuelle », « aujourd'hui »…: among close candidates, the one stating the latest year wins."""
    best = candidates[0].score
    close = [c for c in candidates if c.score >= 0.85 * best]
    latest = max((int(y) for c in close for y in _YEAR.findall(c.text)), default=None)
    if latest is None:
        return candidates
    for c in close:
        if str(latest) in _YEAR.findall(c.text):
            c.score += 0.1
    return sorted(candidates, key=lambda c: -c.score)


