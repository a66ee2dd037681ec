"""Reading a question: what kind of answer it wants, which record fields it points to, its language,
and whether it must be refused whatever the corpus holds."""

from __future__ import annotations

import re

from index.text import fold, words

_ENGLISH = frozenset("the what who when where which how is are does did of and in to".split())
_FRENCH = frozenset("le la les du des est qui quel quelle quels combien comment où que et en de une un".split())


def expected_type(question: str) -> str | None:
    """The kind of value the question asks for, from its wording."""
    q = question.lower()
    if re.search(r"\b(budget|montant|coût|cout|financ|dot[ée]|how much|funding|euros?)\b", q):
        return "money"
    if re.search(r"\b(quand|date|année|depuis quand|when|what year|lancé|créé|inauguré)\b", q):
        return "date"
    if re.search(r"\b(combien|nombre|how many|pétaflops|petaflops|puissance)\b", q):
        return "number"
    if re.search(r"\b(qui|who|dirige|directeur|directrice|coordonn|porte|pilot)\w*", q):
        return "person"
    return None


# Question wording → record fields that answer it (French and English cues, matched on folded text).
FIELD_CUES = [
    (r"\b(cree|creee|creation|fonde|fondee|fondation|depuis quand|created|founded|since when)\b",
     {"creation_date", "launch_date"}),
    (r"\b(lance|lancee|lancement|debut|demarre|launched|start)\b", {"launch_date", "creation_date"}),
    (r"\b(combien de|how many|nombre de)\b", {"figures"}),
    (r"\b(quand|when|quelle date|en quelle annee|what year|since when|depuis quand)\b",
     {"date", "launch_date", "creation_date", "selection_date", "end_date", "installation_date"}),
    (r"\b(budget|dote|dotation|montant|finance|financement|combien d.euros|funding|how much)\b",
     {"budget", "funding", "amount"}),
    (r"\b(dirig\w*|directeur|directrice|direction|responsable|tete|leads?|director|head)\b",
     {"director", "head", "coordinators", "role"}),
    (r"\b(coordon\w*|coordinat\w*|porte\w*|pilot\w*|copilot\w*|co-pilot\w*)\b",
     {"coordinators", "copilots", "lead_institution", "relations.lead", "operator", "relations.operator",
      "relations.coordinator"}),
    (r"\b(ou|situe|situee|installe|installee|implante|localise|where|located|site|ville)\b",
     {"location", "site", "city"}),
    (r"\b(puissance|petaflops?|pflops?|performance|power)\b", {"peak_performance"}),
    (r"\b(gpu|gpus|cartes graphiques)\b", {"gpus"}),
    (r"\b(operateur|opere|exploite|operated?|operator)\b", {"operator", "relations.operator"}),
    (r"\b(partenaires?|partners?|collabore)\b", {"partners", "relations.partners"}),
    (r"\b(axes?|themes?|thematiques?)\b", {"axis", "objectives"}),
    (r"\b(site web|site internet|website|url)\b", {"website"}),
]


def cued_field_groups(question: str) -> list[set[str]]:
    """One set of record fields per thing the question asks (« qui porte X et de quelle somme… » → two)."""
    folded = fold(question)
    return [set(names) for pattern, names in FIELD_CUES if re.search(pattern, folded)]


def cued_fields(question: str) -> set[str]:
    """Record fields the question's wording points to (« Quand AISSAI a-t-il été créé ? » → creation_date)."""
    return set().union(*cued_field_groups(question))


# Requests the assistant refuses whatever the corpus holds: private data about people, and
# instructions that try to change its task. Matched on folded (accentless, lower-case) text.
REFUSALS = [
    ("donnée personnelle", r"\b(salaire|remuneration|adresse (personnelle|postale)|domicile|telephone|"
     r"numero de portable|e-?mail personnel|date de naissance|quel age|vie privee|salary|home address|"
     r"phone number|date of birth|how old|est-(il|elle) marie\w*|married)\b"),
    ("consigne hors de la tâche", r"\b(ignore[rsz]? (tes|vos|les|toutes|all|your|previous)|oublie (tes|vos|les)|"
     r"instructions? (precedentes|systeme)|system prompt|prompt systeme|tu es maintenant|you are now|"
     r"ecris(-moi)? (un|une) (poeme|chanson|script|programme|histoire|code)|write (a|me a) (poem|song|script))"),
]


def refusal_reason(question: str) -> str | None:
    """Why the question must be refused outright, or None."""
    folded = fold(question)
    for reason, pattern in REFUSALS:
        if re.search(pattern, folded):
            return reason
    return None


def is_english(question: str) -> bool:
    tokens = words(question)
    return sum(t in _ENGLISH for t in tokens) > sum(t in _FRENCH for t in tokens)


_RECENT = re.compile(r"\b(actuel\w*|aujourd.hui|maintenant|desormais|dernier\w*|recent\w*|current\w*|now|latest|today)\b")


def asks_for_latest(question: str) -> bool:
    """« actuelle », « aujourd'hui », « latest »…: the most recent value is wanted."""
    return bool(_RECENT.search(fold(question)))
