"""Reading a question: what kind of answer it wants, which record fields it points to, its language,
and whether it must be refused whatever the corpus holds."""

from __future__ import annotations

import re

from index.text import analyze_words, fold, words

_ENGLISH = frozenset("the what who when where which how is are does did of and in to".split())
_FRENCH = frozenset("le la les du des est qui quel quelle quels combien comment où que et en de une un".split())


def expected_type(question: str) -> str | None:
    """The kind of value the question asks for, from its wording."""
    q = question.lower()
    if re.search(r"\b(numéro|numero|référence|reference|identifiant|code)\b", q):
        return "identifier"
    if re.match(r"\W*(qui|who)\b", q):  # « Qui a lancé… » asks for someone, whatever verb follows
        return "person"
    if re.search(r"\b(budget|montant|coût|cout|financ|dot[ée]|how much|funding|euros?|argent|somme)\b", q):
        return "money"
    if re.search(r"\b(temps|durée|duree|how long)\b", q):
        return "duration"
    if re.search(r"\b(taux|pourcentage|proportion|percentage|rate)\b|(?<!de la )(?<!à )(?<!autre )(?<!nulle )"
                 r"(?<!quelque )\bpart\b(?! entière)", q):
        return "share"
    if re.search(r"\b(quand|date|année|depuis quand|when|what year|lancé|créé|inauguré)\b", q):
        return "date"
    if re.search(r"\b(combien|nombre|how many|pétaflops|petaflops|puissance)\b", q):
        return "number"
    if re.search(r"\b(qui|who|dirige|directeur|directrice|coordonn|porte|pilot)\w*", q):
        return "person"
    return None


# What a sentence holding each kind of value looks like.
_VALUE = {
    "money": re.compile(r"\d[\d  .,]*\s*(?:M€|Md€|k€|€|millions?|milliards?|euros?)", re.IGNORECASE),
    "date": re.compile(r"\b(?:1[89]\d\d|20\d\d)\b|\b(?:janvier|février|mars|avril|mai|juin|juillet|août|"
                       r"septembre|octobre|novembre|décembre)\b", re.IGNORECASE),
    "duration": re.compile(r"\b(?:\d+|une?|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze) (?:heures?|jours?|"
                           r"semaines?|mois|ans?|années?)\b", re.IGNORECASE),
    "share": re.compile(r"\d\s*%|\bpour ?cent\b|\bper ?cent\b", re.IGNORECASE),
    # a count: a number that is neither a year nor a day of a month, or a number word (« neuf projets »)
    "number": re.compile(r"(?<![\d,.])(?!(?:19|20)\d\d\b)\d+(?:[  ]\d{3})*(?:[,.]\d+)?(?![\d]|er\b| (?:janvier|février|"
                         r"mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre)\b)|\b(?:deux|trois|quatre|"
                         r"cinq|six|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|cent|mille|dizaines?|vingtaines?|"
                         r"trentaines?|cinquantaines?|centaines?|milliers?)\b", re.IGNORECASE),
    # « avis 2024-46 », « ANR-23-PEIA-0003 », « UAR 2036 », « UMR 8188 »
    "identifier": re.compile(r"\b\d+(?:-\d+)+\b|\b[A-Z][A-Z0-9]+(?:-[A-Z0-9]+)*[- ]\d{2,}\b"),
    "person": re.compile(r"\b[A-ZÉ][a-zéèï]+(?:-[A-ZÉ][a-zéèï]+)? [A-ZÉ][A-Za-zéèï-]+"),
}


def type_match(kind: str | None, sentence: str) -> float:
    """1.0 when ``sentence`` states a value of the ``kind`` :func:`expected_type` gave, else 0.0."""
    pattern = _VALUE.get(kind)
    return 1.0 if pattern and pattern.search(sentence) else 0.0


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
    (r"\b(role|fonction|poste|sert|servir|a quoi)\b", {"role", "mission", "objectives", "support", "uses"}),
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


def field_asked(field: str | None, fields: set[str]) -> bool:
    """``field`` is one the question points to; a question about when accepts any date field (« signature_date »)."""
    if not field or not fields:
        return False
    return field in fields or (field.endswith("_date") and "date" in fields)


# Requests the assistant refuses whatever the corpus holds: private data about people, and
# instructions that try to change its task. Matched on folded (accentless, lower-case) text.
REFUSALS = [
    ("donnée personnelle", r"\b(combien (?:gagne|gagnent|touche|touchent|percoit|percoivent)|"
     r"(?:gagne|touche|percoit)-t-(?:il|elle)|how much (?:does|do|did) [\w -]{1,40}? (?:earn|make|get paid)|salaire|remuneration|adresse (personnelle|postale)|domicile|telephone|"
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


# « Quel est le taux de sélection… », « Quelle est sa puissance… »: the attribute named, with its « de »
# complement when that is a bare common noun (« taux de sélection »; not « budget du PEPR », « budget de
# Confiance.ai »: those name the subject). The noun counted by « combien de » is not one: it is paraphrased
# too often (« jeunes chercheurs » for « doctorants »).
_ASKED = re.compile(r"(?i:\bquel(?:le)?s? (?:est|sont|[ée]tait|[ée]taient|sera|seront) (?:le |la |les |l['’]|son |sa |"
                    r"ses |leurs? ))([\w-]+(?: de (?!l['’]|la |le |les )[a-zà-ÿ][\w-]*| d['’][a-zà-ÿ][\w-]*)?)")
# « Quel est le nom de… » asks which thing, not one of its attributes: any name answers it.
_NAMING = {"nom", "noms", "appellation", "identité"}


def asked_attributes(question: str) -> list[str]:
    """The attributes a French question asks for by name (« Quel est le taux de sélection… » → taux de sélection).

    Other wordings (« Qui dirige… », « Quelle somme… », « Combien de… ») and English questions give none.
    """
    if is_english(question):
        return []
    found = [a.lower() for a in _ASKED.findall(question)]
    return [a for a in found if a.split()[0] not in _NAMING]


# « en 2024 », « depuis 2019 »: a year the question restricts to (« France 2030 » is a name, not one).
_IN_YEAR = re.compile(r"\b(?:en|depuis|avant|après|apres|jusqu['’]en|dès) ((?:19|20)\d\d)\b", re.IGNORECASE)
# « … pour Inria ? », « … pour la biologie marine ? »: a closing « pour » and the name it restricts to.
_CLOSING_FOR = re.compile(r"\bpour ((?:le |la |les |l['’])?(?:[\w-]+ ?){1,3})\s*\?\s*$", re.IGNORECASE)


def restrictive_qualifiers(question: str) -> list[str]:
    """What a French question narrows its subject to: the years it restricts to, and a closing « pour X »
    naming someone or something (« Qui est le directeur du PEPR IA pour Inria ? » → pour Inria).

    « pour ses cinq années » refers back to the subject and « pour la période 2021-2024 » is a time span:
    neither names anything new.
    """
    if is_english(question):
        return []
    found = _IN_YEAR.findall(question)
    closing = _CLOSING_FOR.search(question)
    if closing and _names_something(closing.group(1)):
        found.append(f"pour {closing.group(1).strip()}")
    return found


def _names_something(phrase: str) -> bool:
    refers_back = re.match(r"(ses|son|sa|leurs?) ", phrase, re.IGNORECASE)
    time_span = re.search(r"\b(?:19|20)\d\d\b", phrase)
    return bool(analyze_words(phrase)) and not refers_back and not time_span


# « Qu'est-ce que le PEPR IA ? », « Qui est Jalal Fadili ? », « What is AISSAI? », « Présente le centre AISSAI »:
# the question asks what something is; what follows the lead words must be its name (see ``definition_target``).
_DEFINITION = re.compile(
    r"^\W*(?:qu.est[- ]ce (?:que|qu.)|c.est quoi|qui (?:est|sont|etait)|que (?:sont|signifie|veut dire)|"
    r"que fait|qu.est[- ]ce que c.est (?:que|qu.)|"
    r"(?:peux-tu |pouvez-vous |pourriez-vous )?(?:me |nous )?(?:presente[rz]?|decri[rst]e?z?|definis|definissez|"
    r"parle[rz]?(?:-moi| moi)? d[ue]s?|explique[rz]?(?:-moi| moi)? ce qu.est)|"
    r"what (?:is|are|was)|who (?:is|are|was)|tell me about|describe|present)\s+(.+?)\W*$"
)
_SUMMARY = re.compile(r"\b(resume[rz]?|resumes|resume-moi|synthese|synthetise[rz]?|summari[sz]e|summary|"
                      r"grandes lignes|points? (?:cles|essentiels)|de quoi parle)\b")


def definition_target(question: str) -> str | None:
    """What a definitional question asks about (« Qu'est-ce que le PEPR IA ? » → « le PEPR IA »), or None."""
    match = _DEFINITION.match(fold(question.strip()))
    return match.group(1) if match else None


def asks_summary(question: str) -> bool:
    """« Résume l'article… », « Quels sont les points clés du texte ? », « Summarize… »."""
    return bool(_SUMMARY.search(fold(question)))
