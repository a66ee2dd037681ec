"""A small domain lexicon: the everyday words people use for what the corpus names otherwise.

« le pôle grenoblois » is the MIAI cluster, « le chef de l'État » announced the clusters, « la machine
d'Orsay » is the supercomputer. The expansions are added to the search query (not to the question the
answer is judged against), so they help find the passage without putting words in the user's mouth.
Written for this project; patterns are matched on accent-free, lower-case text.
"""

from __future__ import annotations

import re

from index.text import fold

EXPANSIONS: list[tuple[str, str]] = [
    # places and their demonyms
    (r"\bparisien\w*", "Paris"), (r"\brennais\w*|\bbreton\w*", "Rennes"), (r"\blorrain\w*|\bnanceien\w*", "Lorraine Nancy"),
    (r"\bstrasbourgeois\w*|\balsacien\w*", "Strasbourg"), (r"\blyonnais\w*", "Lyon"), (r"\blillois\w*", "Lille"),
    (r"\bclermontois\w*|\bauvergnat\w*", "Clermont Auvergne"), (r"\bmarseillais\w*", "Marseille"),
    (r"\bbordelais\w*", "Bordeaux"), (r"\bmontpellierain\w*", "Montpellier"), (r"\bsaclaysien\w*", "Saclay"),
    (r"\bcommune\b|\bville\b|\blocalite\b", "ville localisation site"),
    # people and roles
    (r"\bchef de l.etat\b|\bpresident de la republique\b|\belysee\b", "Emmanuel Macron président annonce"),
    (r"\ba la tete\b|\bqui dirige\b|\bpatron\w*|\bresponsable\b", "directeur direction dirigé"),
    (r"\bqui (?:a |ont |avait )?(?:porte|initie|impulse|fonde|lance|cree)\w*", "initiative porté coordonné fondateur"),
    # things
    (r"\bpoles?\b(?! emploi)", "cluster clusters"), (r"\bmachine\w*|\bordinateur\w*|\bcalculateur\w*", "supercalculateur"),
    (r"\bpuces?\b|\bcartes? graphiques?\b|\bprocesseurs? graphiques?\b", "GPU"),
    (r"\bstart-?ups?\b|\bjeunes? pousses?\b", "startups création entreprises"),
    (r"\bdispositif\w*|\bstructure\b|\borganisme\b", "laboratoire centre programme"),
    (r"\bmonde du travail\b|\bemploi\w*|\bmetiers?\b", "travail emploi"),
    (r"\bmecenat\w*|\bphilanthrop\w*|\bdonateur\w*|\bdon\b", "soutien fondation mécénat Google.org"),
    # amounts, time, actions
    (r"\bargent\b|\bsomme\b|\benveloppe\b|\bcredits?\b|\bcombien d.euros\b|\bcoute\w*|\bcout\b", "budget financement montant millions"),
    (r"\bdevoil\w*|\brendu\w* public\w*|\bofficialis\w*", "annoncé annonce"),
    (r"\bapprendre\b|\bapprentissage\b|\bentrain\w*", "entraînement entraîné"),
    (r"\bcombien de temps\b|\bduree\b|\bdure\b", "durée jours mois ans"),
    (r"\bprecede\w*|\bpredecesseur\w*|\bavant lui\b", "prédécesseur remplace"),
    (r"\bmultipli\w*|\bquadrupl\w*|\bdoubl\w*", "fois puissance"),
]


# An English question shares only names with a French corpus: BM25 and coverage see « Jean Zay » and nothing of
# « private company » or « computing time ». Its common words get their French forms in the search query.
ENGLISH_FRENCH: dict[str, str] = {
    "company": "entreprise société", "companies": "entreprises sociétés", "firm": "entreprise", "private": "privé privée industrielle",
    "industry": "industrie industriel", "industrial": "industriel industrielle", "public": "public publique",
    "computing": "calcul", "compute": "calcul", "supercomputer": "supercalculateur", "time": "temps heures",
    "hours": "heures", "access": "accès", "free": "gratuit gratuite", "cost": "coût", "costs": "coûts",
    "funding": "financement budget", "funded": "financé", "budget": "budget", "money": "budget financement",
    "million": "millions", "billion": "milliards", "euros": "euros", "researchers": "chercheurs chercheuses",
    "researcher": "chercheur chercheuse", "research": "recherche", "laboratory": "laboratoire", "lab": "laboratoire",
    "laboratories": "laboratoires", "university": "université", "universities": "universités",
    "students": "étudiants doctorants", "phd": "doctorants thèses doctorat", "training": "formation entraînement",
    "trained": "entraîné formés", "course": "formation", "school": "école", "network": "réseau",
    "engineers": "ingénieurs", "director": "directeur directrice", "head": "directeur tête", "leads": "dirige pilote",
    "led": "dirigé piloté", "coordinates": "coordonne", "coordinator": "coordinateur coordinatrice",
    "launched": "lancé lancement", "created": "créé création", "founded": "fondé création", "announced": "annoncé",
    "selected": "retenu sélectionné", "chairs": "chaires", "chair": "chaire", "proposals": "propositions projets",
    "projects": "projets", "project": "projet", "programme": "programme", "program": "programme",
    "strategy": "stratégie", "national": "national nationale", "plan": "plan", "call": "appel", "calls": "appels",
    "partners": "partenaires", "partnership": "partenariat", "energy": "énergie", "electricity": "électricité",
    "consumption": "consommation", "heat": "chaleur", "carbon": "carbone", "power": "puissance",
    "ethics": "éthique", "committee": "comité", "opinion": "avis", "rules": "règles", "staff": "agents personnels",
    "use": "utiliser usage", "allowed": "autorisé", "generative": "générative", "language": "langage langue",
    "languages": "langues", "model": "modèle", "models": "modèles", "open": "ouvert ouverte", "data": "données",
    "startups": "start-up", "start-ups": "start-up", "joint": "commun communs", "year": "année an", "years": "années ans",
    "how many": "nombre", "where": "où situé", "hosted": "hébergé installé", "built": "construit constructeur",
    "institute": "institut", "institutes": "instituts", "centre": "centre", "center": "centre", "cluster": "cluster",
    "clusters": "clusters", "safety": "sécurité", "end": "fin", "ended": "fin terminé", "started": "démarré débuté",
}


def expand(question) -> str:
    """Words to add to the search query for ``question`` (text or a ParsedQuestion; empty when nothing applies)."""
    from assistant.query.wording import parsed

    reading = parsed(question)
    extra = [words for pattern, words in EXPANSIONS if re.search(pattern, reading.folded)]
    if reading.english:
        lowered = reading.text.lower()
        extra += [french for english, french in ENGLISH_FRENCH.items() if re.search(rf"\b{re.escape(english)}\b", lowered)]
    return " ".join(dict.fromkeys(extra))


# Words that state an attribute a question names otherwise (« quelles sont leurs obligations ? » is answered by
# « à condition de publier »), for the premise check of assistant/decide/premises.py. General French, not this corpus.
SYNONYMS: list[tuple[str, str]] = [
    (r"\bobligations?\b|\bcontreparties?\b|\bexigences?\b|\bconditions?\b", "condition conditions tenu tenus doit doivent "
     "obligation obligatoire exige"),
    (r"\bprix\b|\btarifs?\b|\bcouts?\b|\bpayant\w*", "gratuit gratuite gratuitement payant tarif coût"),
    (r"\bmembres?\b", "membre membres composé composée réunit"),
    (r"\bobjectifs?\b|\bbuts?\b|\bmissions?\b", "objectif objectifs but mission vise viser"),
]


def attribute_synonyms(attribute: str) -> str:
    """Other words that state ``attribute`` (empty when none is known)."""
    folded = fold(attribute)
    return " ".join(words for pattern, words in SYNONYMS if re.search(pattern, folded))

