"""The read stage's first pass: every sentence of the retrieved passages, scored by how well it answers the query.

A sentence's score weighs its similarity to the search vector, the share of the query's terms it covers, whether it
states a value of the kind asked, its passage's rank, how precisely its record's name matches the query, and whether
it is the line of a record field the question points to. The features are kept for the learned ranker
(read/ranking.py). The weights and factors are named settings (``answer.rules``, assistant/rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.compose.records import record_field
from assistant.query.fields import field_asked
from assistant.query.kinds import type_match
from assistant.query.parse import Query
from assistant.retrieve.hybrid import Hit
from assistant.rules import DEFAULT, Rules
from corpus.injection import addresses_assistant
from index.build import LoadedIndex
from index.text import analyze, term_set


@dataclass
class Candidate:
    hit: Hit
    text: str
    score: float
    dense: float
    coverage: float
    reader: float | None = None  # the learned reader's probability that the sentence answers, when it read it
    position: int = 0  # the sentence's index in its passage (chunk.sentences)
    span: object = None  # the span reader's best span in the sentence (assistant.read.span.Span), when it read it
    # What the score was made of, for the learned ranker (assistant/read/ranker.py) and for fitting it.
    features: dict = field(default_factory=dict)


class SentenceScorer:
    """Scores the sentences of retrieved passages.

    Args:
        index: The loaded index (sentence vectors, BM25 statistics).
        backend: Embedder backend name, to pick the similarity scale (cosines mapped to [0, 1]: below ``low`` the
            match is noise, above ``high`` it is as good as it gets; their scales differ by embedder).
        rules: The named hand-set values (``answer.rules``).
    """

    def __init__(self, index: LoadedIndex, backend: str, rules: Rules = DEFAULT):
        self.index = index
        self.rules = rules
        self.low, self.high = rules.dense_scale.get(backend, (0.0, 1.0))
        self.weights = rules.sentence_weights.model_dump()
        # Sentences that address the assistant (« ignore tes instructions… »), by chunk: never quoted.
        self.addressing: dict[str, set[int]] = {}
        for chunk in index.chunks:
            flagged = {i for i, s in enumerate(chunk.sentence_texts()) if addresses_assistant(s) is not None}
            if flagged:
                self.addressing[chunk.chunk_id] = flagged

    def unknown_share(self, query: Query) -> float:
        """Share of the question's weight carried by words the corpus never uses (« salaire », « marine »…).

        Not meaningful for English questions: their words are unknown to a French corpus by nature.
        """
        lexical = self.index.lexical
        if not query.words:
            return 0.0
        rarest = lexical.idf_unknown()
        weights = [(max(lexical.idf(t) for t in forms) or rarest, all(lexical.idf(t) == 0 for t in forms))
                   for forms in query.words]
        return sum(w for w, unknown in weights if unknown) / sum(w for w, _ in weights)

    def candidates(self, query: Query, hits: list[Hit]) -> list[Candidate]:
        """Every sentence of ``hits``, best first, with what each score was made of."""
        lexical = self.index.lexical
        query_vector = query.vector
        terms = dict.fromkeys(query.search_terms)
        own_terms = set(query.terms)
        # Coverage counts only words the corpus knows: an unknown word can be covered by no sentence,
        # and how much of the question is unknown is a separate signal (see ``unknown_share``).
        rules = self.rules
        weights = {t: lexical.idf(t) * (1.0 if t in own_terms else rules.search_term_weight)
                   for t in terms if lexical.idf(t) > 0}
        total = sum(weights.values()) or 1.0
        kind, fields, w = query.kind, query.fields, self.weights
        out = []
        for rank, hit in enumerate(hits):
            chunk = hit.chunk
            context = term_set(f"{chunk.title} {chunk.section} {chunk.metadata.get('keywords', '')}")
            subject = subject_precision(chunk, terms, rules.document_subject)
            mine: list[tuple[int, Candidate]] = []
            coverages, cosines = [], []
            for i, sentence in enumerate(chunk.sentence_texts()):
                present = term_set(sentence)
                covered = sum(weight * (1.0 if t in present else rules.context_credit if t in context else 0.0)
                              for t, weight in weights.items())
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
                field_name = record_field(chunk, sentence)[0]
                field_match = 1.0 if field_asked(field_name, fields) else 0.0
                typed = type_match(kind, sentence)
                score = (w["dense"] * dense + w["coverage"] * coverage + w["type"] * typed
                         + w["rank"] / (1 + rank) + w["subject"] * subject + w["field"] * field_match)
                features = {"dense": dense, "coverage": coverage, "type": float(typed),
                            "rank": 1 / (1 + rank), "subject": subject, "field": field_match,
                            "cosine": cos if query_vector is not None and chunk.sentence_rows else 0.0,
                            "passage_dense": hit.dense_score, "passage_bm25": 1 / hit.bm25_rank if hit.bm25_rank else 0.0,
                            "position": 1 / (1 + i), "record": float(chunk.kind == "record"),
                            "short": 0.0, "alias": 0.0}
                if len(sentence) < rules.short_chars or sentence.startswith(("http://", "https://")):
                    score *= rules.short_factor
                    features["short"] = 1.0
                elif not query.definitional and field_name == "aliases":
                    score *= rules.alias_factor  # « X est aussi appelé Y » answers only « qu'est-ce que Y ? »
                    features["alias"] = 1.0
                features["rules"] = score
                mine.append((i, Candidate(hit, sentence, score, dense, coverage, position=i, features=features)))
            for i, c in mine:
                # what its neighbours say: « Il a été inauguré en 2020. » answers when the sentence before names « Jean Zay »
                near = [j for j in (i - 1, i + 1) if 0 <= j < len(coverages)]
                c.features["context_coverage"] = max((coverages[j] for j in near), default=0.0)
                c.features["context_cosine"] = max((cosines[j] for j in near), default=0.0)
                out.append(c)
        out.sort(key=lambda c: -c.score)
        return out


def subject_precision(chunk, terms, document: float = DEFAULT.document_subject) -> float:
    """For a record, the share of its name's words that the query uses: the call « Fondements
    mathématiques du PEPR IA » is a worse subject than the programme « PEPR IA » for « budget du PEPR IA ».
    A document's sentence gets ``document``."""
    if chunk.kind != "record":
        return document
    name = analyze(chunk.title.split(" (")[0])
    return sum(t in terms for t in name) / len(name) if name else 0.0
