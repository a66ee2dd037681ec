"""Answers that are not one fact: what a named record is (its definition), and what a document says (its summary).

« Qu'est-ce que le PEPR IA ? », « Qui est Jalal Fadili ? », « What is AISSAI? » are answered from the record's
description, which the curators write as its definition; « Résume l'article… » from the first full sentence
of each section of the document, in order (the lead of each part, as a news article is written).
"""

from __future__ import annotations

from assistant.compose.records import record_field
from assistant.rules import DEFAULT, Rules
from index.text import analyze

# Words that may accompany a name in « Qu'est-ce que le centre AISSAI ? » or « Résume le programme PEPR IA ».
_GENERIC_TERMS = frozenset(analyze("centre programme projet supercalculateur institut cluster laboratoire réseau "
                                   "initiative stratégie organisme appel avis dispositif formation personne "
                                   "chercheur chercheuse plan national nationale français française"))
_SUMMARY_TERMS = frozenset(analyze("résume résumé résumer synthèse synthétise summarize summary points clés "
                                   "essentiels grandes lignes"))


class Definitions:
    """Record names and passages by document, read once from the index.

    Args:
        chunks: Every chunk of the index, in document order.
    """

    def __init__(self, chunks, rules: Rules = DEFAULT):
        self.rules = rules
        self.chunks_of: dict[str, list] = {}
        self.names: dict[str, list[frozenset[str]]] = {}  # the analysed terms of each name of each record
        for chunk in chunks:
            self.chunks_of.setdefault(chunk.doc_id, []).append(chunk)
            if chunk.kind == "record" and chunk.doc_id not in self.names:
                terms = [frozenset(analyze(n)) for n in chunk.metadata.get("names", [chunk.title])]
                self.names[chunk.doc_id] = [t for t in terms if t]

    def named_record(self, terms) -> str | None:
        """The record that the analysed ``terms`` name (those of « le centre AISSAI » → centre-aissai), or None.

        Every content word must belong to one of the record's names (or be a generic word such as « centre »,
        « programme »), and the words shared must make at least half of that name.
        """
        asked = set(terms) - _SUMMARY_TERMS
        if not asked:
            return None
        best, best_share = None, 0.0
        for doc_id, names in self.names.items():
            for name in names:
                common = asked & name
                if common and not (asked - name - _GENERIC_TERMS) and len(common) / len(name) > best_share:
                    best, best_share = doc_id, len(common) / len(name)
        return best if best_share >= self.rules.named_share else None

    def definition(self, doc_id: str, limit: int) -> list[tuple[object, str]]:
        """(chunk, sentence) of the record's description, in order, at most ``limit``."""
        seen: dict[str, object] = {}
        for chunk in self.chunks_of.get(doc_id, []):
            for sentence in chunk.sentence_texts():
                if record_field(chunk, sentence)[0] == "description":
                    seen.setdefault(sentence, chunk)  # overlapping chunks repeat sentences
        return [(chunk, sentence) for sentence, chunk in seen.items()][:limit]

    def summary(self, doc_id: str) -> list[tuple[object, str]]:
        """(chunk, sentence): the first full sentence of each section of the document, in order."""
        chosen, sections = [], set()
        for chunk in self.chunks_of.get(doc_id, []):
            if chunk.section in sections:
                continue
            sentence = next((s for s in chunk.sentence_texts()
                             if len(s) >= self.rules.summary_chars and not s.startswith("http")), None)
            if sentence is not None:
                sections.add(chunk.section)
                chosen.append((chunk, sentence))
        return chosen[:self.rules.summary_sentences]
