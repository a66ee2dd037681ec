"""The rest of a question's wording: its language, whether it wants the latest value, the attributes it names,
what it restricts its subject to, what it counts, the names and years it holds, and whether it asks for a
definition or a summary.

Hand-written French wording rules, each tested in tests/assistant/test_question.py and test_premises.py; they are read
once per question, by :func:`assistant.query.parse.read`."""

from __future__ import annotations

import re

from index.text import analyze, analyze_words, fold, words

_ENGLISH = frozenset("the what who when where which how is are was were does did do can could will would should of and in "
                     "to for with from by at an be been it its this that there have has get".split())
_FRENCH = frozenset("le la les du des est qui quel quelle quels combien comment où que et en de une un".split())


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


_COUNTED = re.compile(r"\b(?:combien|nombre|how many|number)\s+(?:de\s+|d['’]|of\s+)?((?:[\w-]+\s*){1,2})",
                      re.IGNORECASE)


def counted_terms(question: str) -> set[str]:
    """The analysed terms of what a question counts: « Combien de doctorants… » → {doctor}."""
    match = _COUNTED.search(question)
    return set(analyze(match.group(1))) if match else set()



_AND_THEN = re.compile(r"^(.+?),?\s+et\s+((?:quand|qui|ou|où|combien|quel\w*|comment|pourquoi|depuis|when|who|where|how|"
                       r"which|what)\b.*)$")


def split_definition(target: str | None) -> tuple[str | None, str | None]:
    """« le gdr ia et quand a-t-il été créé » → (« le gdr ia », « quand a-t-il été créé »); no second part → None."""
    if target is None:
        return None, None
    match = _AND_THEN.match(target)
    return (match.group(1), match.group(2)) if match else (target, None)


_DEFINITIONAL = re.compile(r"\b(qu.est[- ]ce que|c.est quoi|what is|what are|que (sont|signifie)|presente|definition)\b")


def is_definitional(folded: str) -> bool:
    """Worded as « qu'est-ce que… », « what is… » (on folded text): alias lines (« X est aussi appelé Y ») may answer it."""
    return bool(_DEFINITIONAL.search(folded))


_ELISION = re.compile(r"^(?:[ldjmnst]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")


_QUOTED = re.compile(r"«\s*([^»]{2,80}?)\s*»|“([^”]{2,80}?)”")


def named(question: str) -> list[str]:
    """The names and years a question holds, in order: a quoted title whole (« Fondements mathématiques »), runs of
    capitalised words after its first word, acronyms (two capitals or more, « CINES », « PDE-AI ») and years
    (« 2026 »); elisions and a possessive « 's » dropped. They are what a near miss swaps: an answer about another
    entity or year does not hold them."""
    question = question.replace("\x00", " ")
    titles = [(a or b).strip() for a, b in _QUOTED.findall(question)]
    question = _QUOTED.sub(" \x00 ", question)  # each title keeps its place among the names
    out: list[str] = []
    run: list[str] = []
    for n, token in enumerate(question.split()):
        if token == "\x00":
            if run:
                out.append(" ".join(run))
                run = []
            out.append(titles.pop(0))
            continue
        whole = re.sub(r"['’]s$", "", token.strip("?!.,;:«»()\"“”"))
        word = _ELISION.sub("", whole)
        acronym = sum(ch.isupper() for ch in word) >= 2
        name = bool(word) and (acronym or _YEAR.match(word) or (n > 0 and word[0].isupper()))
        if name and not _YEAR.match(word):
            run.append(whole if run else word)  # « Côte d'Azur » keeps its elision inside a name
        else:
            if run:
                out.append(" ".join(run))
                run = []
            if name:
                out.append(word)
        if token.endswith((",", ";", ":", "?")) and run:  # a comma closes a name
            out.append(" ".join(run))
            run = []
    if run:
        out.append(" ".join(run))
    return list(dict.fromkeys(out))


# « de CNRS Mathématiques », « d'Orsay », « de l'IRIT », « au CINES », « of the GDR »: a name brought in by a
# preposition completes another word (« la machine d'Orsay »); one that is not (« le projet SHARP », « the LaborIA's »)
# is what the question is about.
_ARTICLE = re.compile(r"\b(?:l['’]|le|la|les|the)\s*$", re.IGNORECASE)
_COMPLEMENT = re.compile(r"(?:\b(?:de|du|des|of|from|at|in|en|au|aux|à|chez|par|sur|avec|with|by|on)|\bd['’])\s*$",
                         re.IGNORECASE)


def subject_names(question: str, names: list[str]) -> list[str]:
    """Those of ``names`` (from :func:`named`) that no preposition brings in: what the question is about, rather
    than what qualifies it (« Combien de doctorants le projet PDE-AI… » → PDE-AI; « la machine d'Orsay » → none;
    « …, l'INSMI » → INSMI)."""
    out = []
    for name in names:
        found = re.search(rf"(?<!\w){re.escape(name.split()[0])}(?!\w)", question)  # « Hi PARIS » in « Hi! PARIS »
        before = question[:found.start()] if found else ""
        if found and not _COMPLEMENT.search(_ARTICLE.sub("", before.rstrip("«“ "))):
            out.append(name)
    return out
