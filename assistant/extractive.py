"""The extractive answer: read → decide → compose over the retrieved passages.

Read (read/): every sentence scored, then — with the learned reader — the best re-ranked by the ranker's probability.
Decide (decide/): the sentences to quote, whether the corpus answers at all (premises, abstention), every value and
source that bears on the answer (agreement, figures). Compose (compose/): verbatim quotes with numbered citations.
"""

from __future__ import annotations

from assistant.compose.answer import Answer
from assistant.compose.citations import abstention, compose, joined, near_miss, whole
from assistant.compose.definitions import Definitions
from assistant.decide.abstention import Abstention
from assistant.decide.agreement import contradiction, corroboration, disagreeing, headline_figure, without_repeats
from assistant.decide.figures import stated_figure
from assistant.decide.nearby import nearby
from assistant.decide.premises import CorpusNames, evidence_of, unsupported_premise
from assistant.decide.selection import choose, other_values, prefer_recent, same_subject
from assistant.query.kinds import holds_year, type_match
from assistant.query.parse import Query
from assistant.read.candidates import Candidate, SentenceScorer
from assistant.read.ranking import LearnedRanking
from assistant.retrieve.hybrid import Hit
from assistant.rules import DEFAULT, Rules
from index.build import LoadedIndex


class ExtractiveAnswerer:
    """Builds a short answer from verbatim sentences of the retrieved passages.

    Args:
        index: The loaded index (sentence vectors, BM25 statistics, chunks).
        scorer: The read stage's sentence scores.
        abstention: The decide stage's policy.
        ranking: The learned reader and ranker (``answer.reader = "learned"``), or None.
        max_sentences: Most sentences in an answer.
        rules: The named hand-set values of the decide and compose stages (``answer.rules``).
        lead: The span reader that finds the exact answer in the best sentence (``answer.span_lead``), or None.
        min_lead_margin: How sure of its span the lead reader must be for the span to lead the answer.
    """

    def __init__(self, index: LoadedIndex, scorer: SentenceScorer, abstention: Abstention,
                 ranking: LearnedRanking | None = None, *, max_sentences: int = 3, rules: Rules = DEFAULT,
                 lead=None, min_lead_margin: float = 0.0):
        self.lead, self.min_lead_margin = lead, min_lead_margin
        self.index = index
        self.scorer = scorer
        self.abstention = abstention
        self.ranking = ranking
        self.max_sentences = max_sentences
        self.rules = rules
        # a second sentence nearly as good as the best joins it
        self.second_ratio = rules.second_ratio
        if ranking is not None:  # the learned ranker's fitted ratio; the span reader quotes its best sentence
            self.second_ratio = ranking.ranker.second_ratio if ranking.ranker is not None else 1.0
        # A fiche line is judged against its whole record (all its fields), a document sentence against its passage.
        self.record_texts: dict[str, str] = {}
        for chunk in index.chunks:
            if chunk.kind == "record":
                self.record_texts[chunk.doc_id] = f"{self.record_texts.get(chunk.doc_id, '')} {chunk.text}"
        self.definitions = Definitions(index.chunks, rules)
        self.names = CorpusNames(index.chunks, rules.name_share)

    def answer(self, query: Query, hits: list[Hit], extra_hits: list[Hit] = ()) -> Answer:
        """Answer ``query`` from ``hits``; ``extra_hits`` (the next-ranked passages) are searched only for a
        sentence that corroborates or contradicts the answer."""
        if query.refusal:
            return abstention(query, 0.0, {"refused": query.refusal})
        if not query.searchable:  # « ??? », « le la les »: nothing to look for
            return abstention(query, 0.0, {"refused": "question sans contenu"})
        if query.subject or query.summary:
            record = self.definitions.named_record(query.subject_terms)
            if record is not None:
                definition = whole(query, self.definitions.definition(record, self.max_sentences),
                                   {"intent": "definition", "record": record})
                if query.rest is None:
                    return definition
                # « Qu'est-ce que le GDR IA et quand a-t-il été créé ? »: its definition, then the fact asked
                return joined(definition, self.facts(query, hits, extra_hits))
            document = next((h.chunk.doc_id for h in [*hits, *extra_hits] if h.chunk.kind == "document"), None)
            if document is not None and query.summary:
                return whole(query, self.definitions.summary(document), {"intent": "summary", "document": document})
        return self.facts(query, hits, extra_hits)

    def candidates(self, query: Query, hits: list[Hit]) -> list[Candidate]:
        """The read stage: every sentence of ``hits``, best first (by the ranker's probability with the learned
        reader; its shortlist then carries ``reader``)."""
        candidates = self.scorer.candidates(query, hits)
        if candidates and self.ranking is not None:
            candidates = self.ranking.rank(query, candidates)
        if candidates and query.latest:
            candidates = prefer_recent(candidates, self.rules)
        return candidates

    def facts(self, query: Query, hits: list[Hit], extra_hits: list[Hit]) -> Answer:
        """The sentences that state what the question asks, with every value and source that bears on it."""
        candidates = self.candidates(query, hits)
        if not candidates:
            return abstention(query, 0.0, {})
        best = candidates[0]
        chosen = choose(query, candidates, self.max_sentences, self.second_ratio, self.rules)
        names = self.names.specific(query.names)
        premise = unsupported_premise(query, [self.evidence(c) for c in chosen], names=names)
        signals = {"dense": round(best.dense, 4), "coverage": round(best.coverage, 4), "english": query.english,
                   "unknown_share": round(0.0 if query.english else self.scorer.unknown_share(query), 4),
                   "unsupported": 1.0 if premise else 0.0}
        if premise:
            signals["premise"] = premise

        def premise_of_best() -> str | None:
            return premise if len(chosen) == 1 else unsupported_premise(query, [self.evidence(best)], names=names)

        confidence, abstains = self.abstention.judge(query, candidates, signals, premise_of_best)
        if abstains:  # a refusal, with what the corpus holds next to the question when it holds a value of its kind
            near = nearby(query, candidates, self.evidence, self.rules)
            return (abstention(query, confidence, signals) if near is None
                    else near_miss(query, near, confidence, signals))
        kind, counted = query.kind, query.counted
        key = headline_figure(best)
        # score only the next passages that could agree (the headline figure) or disagree (a figure of the kind asked)
        extra = [h for h in extra_hits if (key and key in h.chunk.text) or stated_figure(h.chunk.text, kind, counted)]
        pool = candidates + (self.scorer.candidates(query, extra) if extra else [])
        query_terms = dict.fromkeys(query.search_terms)
        about = [c for c in pool if same_subject(c, best, query_terms, self.rules.subject_share)]
        if not query.latest:  # « actuelle »: the latest value is what is asked, not its history
            chosen = chosen + other_values(query, chosen, self.definitions)
        differing = contradiction(best, kind, counted, about, chosen, self.rules)
        if differing is not None:
            chosen.append(differing)
        elif (agreeing := corroboration(best, key, about, chosen, kind, counted, self.rules)) is not None:
            chosen.append(agreeing)
        chosen, replaced = without_repeats(chosen, kind, counted, self.rules)
        # the exact answer leads the sentence that holds it: for a question asking a value of a known kind (not a
        # list, a definition, a reason), when the span reader is sure enough and its span is of that kind
        if (self.lead is not None and differing is None and chosen[0].span is None and query.kind is not None
                and not query.definitional):
            [(margin, span)] = self.lead.read(query, chosen[:1])
            signals["lead_margin"] = round(max(margin, -99.0), 4)
            if (span is not None and margin >= self.min_lead_margin and type_match(query.kind, span[0])
                    and (not query.year or holds_year(span[0]))):
                chosen[0].span = span
        answer = compose(query, chosen, confidence, disagreement=disagreeing(chosen, best, differing, replaced))
        answer.signals = signals
        return answer

    def evidence(self, candidate: Candidate):
        """What the premise checks judge ``candidate`` against (:func:`assistant.decide.premises.evidence_of`)."""
        return evidence_of(candidate, self.record_texts)
