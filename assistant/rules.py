"""The hand-set numbers of the read, decide and compose stages, named: the settings section ``answer.rules``.

None of them is fitted: they were set by hand while writing the rules reader, and checked on eval/dev_qa.jsonl
(bench/tune_sentence_weights.py searches the sentence weights; its best grid point was not kept, as it lost on the
held-out set, see docs/quality.md). Being settings, each can be changed in assistant.toml or ``ASSISTANT_ANSWER__RULES__*``
and measured with ``assistant eval``; the learned reader replaces most of them by the ranker's fitted weights.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SentenceWeights(BaseModel):
    """How the rules reader weighs a sentence's evidence (read/candidates.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dense: float = Field(0.45, ge=0, description="Similarité de la phrase au vecteur de la recherche")
    coverage: float = Field(0.35, ge=0, description="Part des termes de la recherche que la phrase couvre")
    type: float = Field(0.12, ge=0, description="La phrase donne une valeur du type demandé")
    rank: float = Field(0.08, ge=0, description="Rang du passage (divisé par 1 + rang)")
    subject: float = Field(0.1, ge=0, description="Précision du nom de la fiche par rapport à la recherche")
    field: float = Field(0.15, ge=0, description="La phrase est la ligne d'un champ que la question vise")


class Rules(BaseModel):
    """The named hand-set values (``answer.rules``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sentence_weights: SentenceWeights = SentenceWeights()
    # cosine similarities of a query with a sentence mapped to [0, 1] between these bounds, per embedder
    dense_scale: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"e5": (0.80, 0.93), "sentence-transformers": (0.25, 0.75)},
        description="Bornes (bruit, excellent) de la similarité cosinus, par embedder")
    search_term_weight: float = Field(0.5, ge=0, le=1, description="Poids, dans la couverture, d'un terme ajouté "
                                      "par la relance ou le lexique (ceux de la question valent 1)")
    context_credit: float = Field(0.6, ge=0, le=1, description="Couverture d'un terme présent seulement dans le "
                                  "titre, la section ou les mots-clés du passage")
    document_subject: float = Field(0.5, ge=0, le=1, description="Précision de sujet d'une phrase de document")
    short_chars: int = Field(25, ge=0, description="Une phrase plus courte (ou une adresse) est une réponse faible")
    short_factor: float = Field(0.5, ge=0, le=1, description="Facteur du score d'une phrase courte")
    alias_factor: float = Field(0.6, ge=0, le=1, description="Facteur du score de « X est aussi appelé Y » hors "
                                "des questions de définition")
    second_ratio: float = Field(0.9, ge=0, le=1, description="Une deuxième phrase rejoint la meilleure à ce "
                                "rapport de score (lecteur à règles)")
    other_field_ratio: float = Field(0.6, ge=0, le=1, description="Score relatif minimal de la phrase qui répond "
                                     "à la deuxième partie d'une question double")
    recent_ratio: float = Field(0.85, ge=0, le=1, description="« actuel » : phrases proches de la meilleure "
                                "parmi lesquelles la plus récente l'emporte")
    recent_bonus: float = Field(0.1, ge=0, description="« actuel » : bonus de la phrase de l'année la plus récente")
    subject_share: float = Field(0.5, ge=0, le=1, description="Part du nom d'une fiche que la question doit "
                                 "employer pour qu'une de ses phrases confirme la réponse")
    comparable_dense: float = Field(0.7, ge=0, le=1, description="Similarité relative d'une phrase dont le chiffre "
                                    "peut contredire ou confirmer la réponse")
    corroboration_share: float = Field(0.5, ge=0, le=1, description="Couverture et similarité relatives d'une "
                                       "phrase qui confirme la réponse par le même chiffre")
    mention_share: float = Field(0.5, ge=0, le=1, description="Part du nom d'une fiche qu'un passage de document "
                                 "doit citer pour parler d'elle")
    figure_tolerance: float = Field(0.01, ge=0, le=1, description="Écart relatif sous lequel deux chiffres concordent")
    named_share: float = Field(0.5, ge=0, le=1, description="Part d'un nom de fiche qu'une question de définition "
                               "doit employer")
    summary_chars: int = Field(60, ge=0, description="Longueur minimale de la phrase qui ouvre une section d'un résumé")
    summary_sentences: int = Field(5, ge=1, description="Phrases d'un résumé de document")
    name_share: float = Field(0.05, ge=0, le=1, description="Une réponse doit nommer (phrase, fiche ou passage) "
                              "chaque nom ou année de la question que le corpus emploie dans au plus cette part de "
                              "ses passages (0 : aucun contrôle des noms)")
    nearby_depth: int = Field(3, ge=0, description="Refus : meilleures phrases parmi lesquelles chercher ce que le "
                              "corpus dit à côté de la question (0 : refus sans voisinage)")
    nearby_coverage: float = Field(0.3, ge=0, le=1, description="Refus : couverture minimale de la recherche par la "
                                   "phrase montrée à côté")


DEFAULT = Rules()
