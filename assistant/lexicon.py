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


def expand(question: str) -> str:
    """Words to add to the search query for ``question`` (empty when nothing applies)."""
    folded = fold(question)
    extra = [words for pattern, words in EXPANSIONS if re.search(pattern, folded)]
    return " ".join(dict.fromkeys(extra))
