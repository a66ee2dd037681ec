"""French text analysis for lexical search: elisions, stop words, stemming, accent folding."""

from __future__ import annotations

import re
from functools import lru_cache

from corpus.text import fold  # the one fold, re-exported: the assistant imports it from here

# Elided articles and pronouns glued to the next word by an apostrophe.
_ELISION = re.compile(
    r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)['’ʼ]", re.IGNORECASE
)
_TOKEN = re.compile(r"\w+", re.UNICODE)

# Written for this project: function words and question words that carry no topic.
STOP_WORDS = frozenset(
    """
    a à afin ai aie aient ainsi alors après as au aucun aucune aupres auprès aussi autre autres aux avaient
    avais avait avant avec avez avoir avons ayant c ça car ce ceci cela celle celles celui cependant ces cet
    cette ceux chaque chez ci comme comment d dans de des deja déjà depuis dont du donc elle elles en encore
    entre es est et étaient était étant été être eu eux fait faire fut il ils j je jusqu l la le les leur
    leurs lors lui m ma mais me même mes moi mon n ne ni non nos notre nous on ont ou où par parmi pas pendant
    peu peut peuvent plus pour pourquoi qu quand que quel quelle quelles quels qui quoi s sa sans se selon
    ses si sinon soit son sont sous suis sur t ta te tes toi ton tous tout toute toutes très tu un une unes uns
    vers via vos votre vous y combien est-ce existe-t-il dit quoi lequel laquelle lesquels lesquelles
    font fais faisait faisaient fera feront ferait fasse sera seront serait seraient aura auront avait
    the of and or to in on at for by with from is are was were be been what which who whom when where why how
    does do did has have had an this that these those it its as into about than
    """.split()
)


_FOLDED_STOP_WORDS = frozenset(fold(w) for w in STOP_WORDS)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("french")


def words(text: str) -> list[str]:
    """Lower-cased word tokens with elisions split off (« l’IA » → « ia »)."""
    return _TOKEN.findall(_ELISION.sub(" ", text.lower()))


def analyze_words(text: str) -> list[tuple[str, ...]]:
    """Per content word, its index terms: the Snowball-French stem of the word as written, accents
    folded afterwards (« exploitée » → « exploit »), plus the stem of the folded word when it differs,
    so a question typed without accents (« exploitee » → « exploite ») still meets the text."""
    stemmer = _stemmer()
    out = []
    for word in words(text):
        folded = fold(word)
        if folded in _FOLDED_STOP_WORDS:
            continue
        accented = fold(stemmer.stemWord(word))
        plain = stemmer.stemWord(folded)
        out.append((accented,) if plain == accented else (accented, plain))
    return out


def analyze(text: str) -> list[str]:
    """Tokens for BM25 and coverage: every index term of every content word (see :func:`analyze_words`).

    >>> analyze("L’Inria et le CNRS co-pilotent les données")
    ['inri', 'cnr', 'co', 'pilotent', 'don', 'donne']
    """
    return [term for variants in analyze_words(text) for term in variants]


@lru_cache(maxsize=32768)
def term_set(text: str) -> frozenset[str]:
    """The analysed terms of ``text`` as a set, cached: the same passages come back query after query."""
    return frozenset(analyze(text))
