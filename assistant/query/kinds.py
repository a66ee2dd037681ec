"""What kind of value a question asks for (an amount, a date, a person…), read from its wording, and what a
sentence stating such a value looks like. Hand-written French and English wording rules: no packaged model tells the
expected answer type of a French question; the learned reader (read/) weighs them as one feature among others."""

from __future__ import annotations

import re

# « Quelle part… », « Quel laboratoire… », « Dans quel cadre… »: the noun after the interrogative names what is asked,
# whatever verbs follow (« Dans quel cadre le CNRS a-t-il lancé AISSAI ? » asks no date). Nouns naming a value;
# any other noun asks for a thing, which has no value kind.
_HEAD = re.compile(r"\b(?:quel|quelle|quels|quelles|which|what)\s+([a-zà-ÿ-]+)", re.IGNORECASE)
_HEAD_KINDS = {
    "share": {"part", "parts", "proportion", "pourcentage", "taux", "share", "percentage", "rate"},
    "money": {"somme", "sommes", "montant", "montants", "budget", "enveloppe", "amount", "sum"},
    "date": {"date", "dates", "année", "annee", "jour", "mois", "year", "day", "month"},
    "duration": {"durée", "duree"},
    "number": {"nombre", "number"},
    "person": {"personne", "personnes", "chercheur", "chercheuse", "chercheurs", "chercheuses", "scientifique",
               "scientifiques", "personnalité", "personnalités", "person", "researcher", "scientist"},
}
# What follows « quel » when it is no noun: « Quel est le budget… » names the attribute after the verb.
_NOT_NOUNS = {"est", "sont", "était", "etait", "étaient", "etaient", "sera", "seront", "fut", "is", "are", "was", "were",
              "will", "did", "does", "do", "has", "have", "can", "type", "genre", "sorte", "kind"}
# « Pourquoi… », « Comment… », « Dans quel cadre… »: a reason, a manner or a frame is asked, not a value.
MANNER = re.compile(r"^\W*(?:pourquoi|comment(?! s.appell)|dans quel(?:le)? (?:cadre|but|contexte|objectif)|à quelle fin|"
                     r"de quelle (?:manière|maniere|façon|facon)|why|how (?!many|much|long|old|often))\b", re.IGNORECASE)


def interrogative_head(question: str) -> str | None:
    """The noun the interrogative bears (« Quelle part des 73 M€… » → part), or None."""
    for match in _HEAD.finditer(question):
        noun = match.group(1).lower()
        if noun not in _NOT_NOUNS:
            return noun
    return None


# « Jalal Fadili, directeur du centre AISSAI, mène-t-il… »: an apposition between commas describes the subject;
# it says nothing of what is asked.
_APPOSITION = re.compile(r",\s+(?!(?:et|ou|and|or)\b)[^,?]{3,80}?,\s+")
_ASKING = re.compile(r"\b(?:qui|quand|quel\w*|combien|comment|où|pourquoi|who|when|which|what|how|where)\b", re.IGNORECASE)


def asking_part(question: str) -> str:
    """The question without its appositions (those that ask nothing themselves)."""
    return _APPOSITION.sub(lambda m: m.group(0) if _ASKING.search(m.group(0)) else " ", question)


# Words that ask for an amount, a duration, a share wherever they stand.
_CUES = {
    "money": re.compile(r"\b(budget|montant|coût|cout|financ|dot[ée]|how much|funding|euros?|argent|somme)\b|"
                        # « Combien coûte… », « Combien le CNRS paie-t-il… »: how much is paid (« Qui finance… » is no amount)
                        r"\bcombien\b.*\b(?:co[uû]t\w*|pai(?:e|ent)|pay\w*|financ\w*|rapport\w*|dépens\w*|investi\w*)"),
    "duration": re.compile(r"\b(temps|durée|duree|how long)\b"),
    "share": re.compile(r"\b(taux|pourcentage|proportion|percentage|rate)\b|(?<!de la )(?<!à )(?<!autre )(?<!nulle )"
                        r"(?<!quelque )\bpart\b(?! entière)"),
}


_WHO = re.compile(r"\W*(?:(?:et|and) )?(?:(?:par|avec|à|a|pour|chez|de|auprès de|by|with|to|for|from) )?(?:qui|who|whom)\b",
                  re.IGNORECASE)


def expected_type(question: str) -> str | None:
    """The kind of value the question asks for, from its wording (its appositions left out)."""
    question = asking_part(question)
    if MANNER.match(question):
        return None
    head = interrogative_head(question)
    if head is not None and not _WHO.match(question):
        if re.search(r"\b(numéro|numero|référence|reference|identifiant|code)\b", head):
            return "identifier"
        return next((kind for kind, nouns in _HEAD_KINDS.items() if head in nouns), None)
    q = question.lower()
    if re.search(r"\b(numéro|numero|référence|reference|identifiant|code)\b", q):
        return "identifier"
    if _WHO.match(q):  # « Qui a lancé… », « Par qui… » ask for someone, whatever verb follows
        return "person"
    counted = counted_noun(question)
    if counted is not None:  # « Combien d'étudiants… chaque année ? » counts students: the noun counted decides
        return counted_unit(counted) or "count"
    for kind in ("money", "duration", "share"):
        if _CUES[kind].search(q):
            return kind
    if re.search(r"\b(quand|dates?|année|depuis quand|when|what year|lancé|créé|inauguré)\b", q):
        return "date"
    if re.search(r"\b(combien|nombre|how many|pétaflops|petaflops|puissance)\b", q):
        return "number"
    if re.search(r"\b(qui|who|dirige|directeur|directrice|coordonn|porte|pilot)\w*", q):
        return "person"
    return None


# A figure as written (« 1 350 », « 6,8 »): the look-behinds start it at its first digit only, and its spaces stand
# between digits, so that « 1 1 1 … » costs linear time, not quadratic (each digit a new start, each space a split).
_FIGURE = r"(?<!\d)(?<!\d[ .,])\d(?:[\d.,]| (?=\d))*"
_CURRENCY = (r"M€|Md€|k€|€|US\$|\$|USD|£|¥|CHF|euros?|dollars?|livres?(?: sterling| turques?)?|francs?|yens?|roubles?|"
             r"marks?|pesos?|lires?")
_NUMBER_WORDS = "un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|quinze|vingt|trente|quarante|cinquante|cent|mille"
# an amount in a currency (« 73 M€ », « 30 000 $ », « quatre millions de livres »)
_AMOUNT = (rf"(?:{_FIGURE}|\b(?:{_NUMBER_WORDS})\b)\s*(?:(?:millions?|milliards?|milliers?)\s*)?(?:(?:de |d['’])\s*)?"
           rf"(?:{_CURRENCY})(?!\w)")

# What a sentence holding each kind of value looks like.
_VALUE = {
    # an amount in a currency, or in millions
    "money": re.compile(rf"{_AMOUNT}|{_FIGURE}\s*(?:millions?|milliards?)", re.IGNORECASE),
    "date": re.compile(r"\b(?:1[89]\d\d|20\d\d)\b|\b(?:janvier|février|mars|avril|mai|juin|juillet|août|"
                       r"septembre|octobre|novembre|décembre)\b", re.IGNORECASE),
    "duration": re.compile(r"\b(?:\d+|une?|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|two|three|four|five|"
                           r"six|ten) (?:heures?|jours?|semaines?|mois|ans?|années?|hours?|days?|weeks?|months?|"
                           r"years?)\b", re.IGNORECASE),
    "share": re.compile(rf"{_FIGURE}\s*%|\bpour ?cent\b|\bper ?cent\b", re.IGNORECASE),
    # a count: a number that is neither a year, nor a day of a month, nor part of a name (« 3IA », « V100 »), or a
    # number word (« neuf projets »); amounts, shares and durations are no counts (see :func:`type_match`)
    "number": re.compile(r"(?<![\w,.])(?<![^\W\d_]-)(?!(?:19|20)\d\d\b)\d+(?:[  ]\d{3})*(?:[,.]\d+)?(?![\d]|[^\W\d_]|er\b| (?:janvier|février|"
                         r"mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre)\b)|\b(?:deux|trois|quatre|"
                         r"cinq|six|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|cent|mille|dizaines?|vingtaines?|"
                         r"trentaines?|cinquantaines?|centaines?|milliers?)\b", re.IGNORECASE),
    # « avis 2024-46 », « ANR-23-PEIA-0003 », « UAR 2036 », « UMR 8188 »
    "identifier": re.compile(r"\b\d+(?:-\d+)+\b|\b[A-Z][A-Z0-9]+(?:-[A-Z0-9]+)*[- ]\d{2,}\b"),
    "person": re.compile(r"\b[A-ZÉ][a-zéèï]+(?:-[A-ZÉ][a-zéèï]+)? [A-ZÉ][A-Za-zéèï-]+"),
}


# A count (« Combien de projets… ») is a number of things: not an amount, a share or a duration (« 6 M€ », « 38 % »,
# « cinq ans »), with the first number of a range (« de 36 à 48 mois »). A question counting projects is not answered
# by the programme's budget (the near misses of issue 27). « 40 millions » is a count, « 40 millions de dollars » not.
_NOT_COUNTS = ("money", "share", "duration")
_NOT_COUNT_VALUES = [re.compile(rf"(?:{_FIGURE}\s*(?:à|-|–|ou)\s*)?(?:{pattern})", re.IGNORECASE)
                     for pattern in (_AMOUNT, _VALUE["share"].pattern, _VALUE["duration"].pattern)]


def type_match(kind: str | None, sentence: str) -> float:
    """1.0 when ``sentence`` states a value of the ``kind`` :func:`expected_type` gave, else 0.0. A ``count`` is a
    number outside the sentence's amounts, shares and durations; a ``number`` (« De combien… ») any number."""
    if kind == "count":
        for other in _NOT_COUNT_VALUES:
            sentence = other.sub(" ", sentence)
        kind = "number"
    pattern = _VALUE.get(kind)
    return 1.0 if pattern and pattern.search(sentence) else 0.0


_COUNTED_NOUN = re.compile(r"\b(?:(?:combien|nombre) (?:de |d['’])|how many |number of )\s*([\w-]+)", re.IGNORECASE)


def counted_noun(question: str) -> str | None:
    """What « combien de… », « nombre de… », « how many… » count (« Combien d'étudiants… » → étudiants), or None."""
    match = _COUNTED_NOUN.search(question)
    return match.group(1).lower() if match else None


def counted_unit(noun: str) -> str | None:
    """The kind of value a counted noun is a unit of (« jours » → duration, « euros » → money, « argent » → money),
    or None for things counted (« étudiants »)."""
    return next((kind for kind in _NOT_COUNTS if _VALUE[kind].search(f"2 {noun}") or _CUES[kind].search(noun)), None)



_YEAR_ASKED = re.compile(r"\b(?:(?:en |de |à partir de |depuis )?quelle année|what year|which year|in what year)\b",
                         re.IGNORECASE)
_A_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")


def asks_year(question: str) -> bool:
    """« En quelle année… ? », « What year… ? »: a date question whose answer must hold a year (« novembre » is a
    date, not the year asked)."""
    return bool(_YEAR_ASKED.search(question))


def holds_year(text: str) -> bool:
    return bool(_A_YEAR.search(text))
