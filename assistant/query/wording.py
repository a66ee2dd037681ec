"""Reading a question: what kind of answer it wants, which record fields it points to, its language,
and whether it must be refused whatever the corpus holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from index.text import analyze, analyze_words, fold, words

_ENGLISH = frozenset("the what who when where which how is are was were does did do can could will would should of and in "
                     "to for with from by at an be been it its this that there have has get".split())
_FRENCH = frozenset("le la les du des est qui quel quelle quels combien comment où que et en de une un".split())


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
_MANNER = re.compile(r"^\W*(?:pourquoi|comment(?! s.appell)|dans quel(?:le)? (?:cadre|but|contexte|objectif)|à quelle fin|"
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


def _asking_part(question: str) -> str:
    """The question without its appositions (those that ask nothing themselves)."""
    return _APPOSITION.sub(lambda m: m.group(0) if _ASKING.search(m.group(0)) else " ", question)


def expected_type(question: str) -> str | None:
    """The kind of value the question asks for, from its wording (its appositions left out)."""
    question = _asking_part(question)
    if _MANNER.match(question):
        return None
    head = interrogative_head(question)
    if head is not None and not re.match(r"\W*(qui|who)\b", question, re.IGNORECASE):
        if re.search(r"\b(numéro|numero|référence|reference|identifiant|code)\b", head):
            return "identifier"
        return next((kind for kind, nouns in _HEAD_KINDS.items() if head in nouns), None)
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


# The record fields holding a date (« quand… » asks for any of them).
_DATE_FIELDS = frozenset({"date", "launch_date", "creation_date", "selection_date", "end_date", "installation_date"})

# Question wording → record fields that answer it (French and English cues, matched on folded text).
FIELD_CUES = [
    (r"\b(cree|creee|creation|fonde|fondee|fondation|depuis quand|created|founded|since when)\b",
     {"creation_date", "launch_date"}),
    (r"\b(lance|lancee|lancement|debut|demarre|launched|start)\b", {"launch_date", "creation_date"}),
    (r"\b(combien de|how many|nombre de)\b", {"figures"}),
    (r"\b(quand|when|quelle date|en quelle annee|what year|since when|depuis quand)\b",
     _DATE_FIELDS),
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
    """One set of record fields per thing the question asks (« qui porte X et de quelle somme… » → two).

    An apposition (« X, directeur de Y, … ») cues nothing; a question asking why, how or in what frame something
    was launched or created does not ask its date.
    """
    question = _asking_part(question)
    folded = fold(question)
    groups = [set(names) for pattern, names in FIELD_CUES if re.search(pattern, folded)]
    if _MANNER.match(question):
        groups = [g for g in groups if not g <= _DATE_FIELDS]
    return groups




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
_ASKED = re.compile(r"(?i:\b(?:quel(?:le)?s?|qui) (?:est|sont|[ée]tait|[ée]taient|sera|seront) (?:le |la |les |l['’]|son |sa |"
                    r"ses |leurs? )(?:(?:\d+|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|vingt|cent) )?)"
                    r"([\w-]+(?: de (?!l['’]|la |le |les )[a-zà-ÿ][\w-]*| d['’][a-zà-ÿ][\w-]*)?)")
# « Quel est le nom de… » asks which thing, not one of its attributes: any name answers it.
_NAMING = {"nom", "noms", "appellation", "identité"}


def asked_attributes(question: str, *, english: bool | None = None) -> list[str]:
    """The attributes a French question asks for by name (« Quel est le taux de sélection… » → taux de sélection).

    Other wordings (« Qui dirige… », « Quelle somme… », « Combien de… ») and English questions give none.
    """
    if is_english(question) if english is None else english:
        return []
    found = [a.lower() for a in _ASKED.findall(question)]
    return [a for a in found if a.split()[0] not in _NAMING]


# « en 2024 », « depuis 2019 »: a year the question restricts to (« France 2030 » is a name, not one).
_IN_YEAR = re.compile(r"\b(?:en|depuis|avant|après|apres|jusqu['’]en|dès) ((?:19|20)\d\d)\b", re.IGNORECASE)
# « … pour Inria ? », « … pour la biologie marine ? »: a closing « pour » and the name it restricts to.
_CLOSING_FOR = re.compile(r"\bpour ((?:le |la |les |l['’])?(?:[\w-]+ ?){1,3})\s*\?\s*$", re.IGNORECASE)


# « Combien de start-up spécialisées en intelligence artificielle… »: the counted things are restricted to a field
# (not « Combien d'argent est consacré au programme… », where the participle is the verb).
SPECIALISED = "spécialisé"
_SPECIALISED_IN = re.compile(r"\b(?:combien|nombre|quels|quelles) (?:de |d['’])?[\w-]+ (?:spécialisé|specialise|dédié|dedie|"
                             r"consacré|consacre|actif|active)e?s? "
                             r"(en|dans|à|au|aux|sur) ((?:l['’]|la |le |les )?[\w-]+(?: (?!(?:sont|est|ont|a|issu\w*|du|de|des|le|la|les)\b)"
                             r"[a-zà-ÿ][\w-]*)?)", re.IGNORECASE)


# « Combien de chercheurs du CNRS… »: the counted noun's own complement, when it names someone (a capitalised name).
COUNTED_OF = "de "
_COUNTED_OF = re.compile(r"\b(?:[Cc]ombien|[Nn]ombre) (?:de |d['’])\s*[\w-]+ (?:du |de la |des |de l['’]|de |d['’])"
                         r"([A-ZÉ][\w.-]*(?: [A-ZÉ][\w.-]*)?)")


def restrictive_qualifiers(question: str, *, english: bool | None = None) -> list[str]:
    """What a French question narrows its subject to: the years it restricts to, and a closing « pour X »
    naming someone or something (« Qui est le directeur du PEPR IA pour Inria ? » → pour Inria).

    « pour ses cinq années » refers back to the subject and « pour la période 2021-2024 » is a time span:
    neither names anything new.
    """
    if is_english(question) if english is None else english:
        return []
    found = _IN_YEAR.findall(question)
    found += [f"{SPECIALISED} {m.group(1)} {m.group(2)}" for m in _SPECIALISED_IN.finditer(question)]
    found += [f"{COUNTED_OF}{m.group(1)}" for m in _COUNTED_OF.finditer(question)]
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


@dataclass(eq=False)
class ParsedQuestion:
    """A question read once. ``Assistant.ask_stream`` builds it and hands it to retrieval, the answerer, the premise
    checks, the figures and the generator; each reading is computed the first time it is asked for, then kept.

    Attributes:
        text: The question as asked (checked, stripped).
        query: The retrieval query: the question, or its standalone form for a follow-up, plus the lexicon's words.
    """

    text: str
    query: str = ""

    def __post_init__(self):
        self.query = self.query or self.text

    def __str__(self) -> str:
        return self.text

    @cached_property
    def english(self) -> bool:
        return is_english(self.text)

    @cached_property
    def folded(self) -> str:
        return fold(self.text)

    @cached_property
    def terms(self) -> list[str]:
        """The question's own analysed terms (stems, accented and folded)."""
        return analyze(self.text)

    @cached_property
    def query_terms(self) -> list[str]:
        return analyze(self.query)

    @cached_property
    def kind(self) -> str | None:
        return expected_type(self.text)

    @cached_property
    def field_groups(self) -> list[set[str]]:
        return cued_field_groups(self.text)

    @cached_property
    def fields(self) -> set[str]:
        return set().union(*self.field_groups)

    @cached_property
    def attributes(self) -> list[str]:
        return asked_attributes(self.text, english=self.english)

    @cached_property
    def qualifiers(self) -> list[str]:
        return restrictive_qualifiers(self.text, english=self.english)

    @cached_property
    def counted(self) -> set[str]:
        return counted_terms(self.text)

    @cached_property
    def refusal(self) -> str | None:
        return refusal_reason(self.text)

    @cached_property
    def definition(self) -> str | None:
        return definition_target(self.text)

    @cached_property
    def summary(self) -> bool:
        return asks_summary(self.text)

    @cached_property
    def latest(self) -> bool:
        return asks_for_latest(self.text)

    @cached_property
    def definitional(self) -> bool:
        """Worded as « qu'est-ce que… », « what is… »: alias lines (« X est aussi appelé Y ») may answer it."""
        return bool(re.search(r"\b(qu.est[- ]ce que|c.est quoi|what is|what are|que (sont|signifie)|presente|definition)\b",
                              self.folded))


def parsed(question: str | ParsedQuestion, query: str = "") -> ParsedQuestion:
    """``question`` read once: itself when it already is, else a new :class:`ParsedQuestion`."""
    return question if isinstance(question, ParsedQuestion) else ParsedQuestion(question, query)


_COUNTED = re.compile(r"\b(?:combien|nombre|how many|number)\s+(?:de\s+|d['’]|of\s+)?((?:[\w-]+\s*){1,2})",
                      re.IGNORECASE)


def counted_terms(question: str) -> set[str]:
    """The analysed terms of what a question counts: « Combien de doctorants… » → {doctor}."""
    match = _COUNTED.search(question)
    return set(analyze(match.group(1))) if match else set()

