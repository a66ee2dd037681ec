"""What a Chat Completions request asks, read once at the API's entrance: its JSON body, the model, the question and
its history, whether to stream, and the refusal (400, the protocol's ``unsupported_parameter``) of what the assistant
does not do.

Written by hand: the protocol's request is a few JSON fields, and the answers are quoted from the corpus, so only
the fields that would change what a client takes for an answer need reading.
"""

from __future__ import annotations

import json

from ui.guard import MAX_JSON_DEPTH, too_deep

MODELS = {"cnrs-ia-extractive": "extractive", "cnrs-ia-generative": "generative", "cnrs-ia-auto": "auto"}


class BadRequest(ValueError):
    """A request refused with 400: ``args`` are (param, message), as :func:`read_request` has always raised;
    ``code`` is the protocol's error code (None for a malformed field)."""

    def __init__(self, param: str | None, message: str, code: str | None = None):
        super().__init__(param, message)
        self.param, self.message, self.code = param, message, code


UNSUPPORTED = "unsupported_parameter"
# Below this, a max_tokens would cut answers the evaluation sets get (the longest: 276 tokens as usage counts
# them): a sourced answer is never cut, so a smaller budget is refused rather than silently exceeded.
MIN_MAX_TOKENS = 512


def read_body(raw: bytes) -> dict:
    """The request's JSON object; :class:`BadRequest` (``invalid_json``) when it is not one.

    The request guard already refuses bodies nested past ``MAX_JSON_DEPTH`` (ui/guard.py); this holds without it
    too: a RecursionError of the parser is an invalid body, not a 500."""
    if too_deep(raw):
        raise BadRequest(None, f"Corps de requête refusé : tableaux ou objets JSON imbriqués sur plus de "
                               f"{MAX_JSON_DEPTH} niveaux.", "invalid_json")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest(None, "Corps de requête qui n'est pas du JSON valide", "invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest(None, "Le corps de la requête doit être un objet JSON", "invalid_json")
    return body


def _text(content) -> str | None:
    """A message's text: a string, or the text parts of a list of parts; None when it is neither."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if all(isinstance(p, str) for p in parts):
            return "\n".join(parts)
    return None


def read_request(body: dict) -> tuple[str, str, list[str], bool]:
    """(model, question, history, stream) from a request body; :class:`BadRequest` (a ``ValueError(param,
    message)``) when malformed or when it asks for what the assistant does not do (:func:`refuse_unsupported`)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model", "Champ « model » manquant : un de " + ", ".join(MODELS))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages", "Champ « messages » vide ou absent : au moins un message de rôle « user »")
    users = []
    for n, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"messages[{n}]", f"messages[{n}] n'est pas un message (objet avec « role »)")
        if message["role"] == "user":
            text = _text(message.get("content"))
            if text is None:
                raise BadRequest(f"messages[{n}].content", f"messages[{n}] : contenu qui n'est pas du texte")
            users.append(text)
    if not users:
        raise BadRequest("messages", "Aucun message de rôle « user » : la dernière question de l'utilisateur est "
                                     "ce à quoi l'assistant répond")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream", "« stream » doit être true ou false")
    refuse_unsupported(body)
    return model, users[-1], users[:-1], stream


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def refuse_unsupported(body: dict) -> None:
    """Raise :class:`BadRequest` (``unsupported_parameter``) for a parameter that asks for what the assistant does
    not do: several choices, a JSON or audio output, a tool call, log-probabilities, a cut answer, a web search.
    A client that asked for one of these must not take an ordinary answer for it.

    Parameters that tune a sampler (``temperature``, ``top_p``, ``seed``, penalties, ``logit_bias``…) or only
    label the request (``user``, ``metadata``, ``store``, ``stream_options``…) are accepted and change nothing:
    answers are quoted from the corpus, the same whatever they say. So are fields this protocol does not define
    (vendor extensions some clients send). docs/security.md lists the policy."""
    n = body.get("n")
    if n is not None and not (_integer(n) and n == 1):
        raise BadRequest("n", "« n » doit valoir 1 : l'assistant donne une seule réponse par question", UNSUPPORTED)
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not _integer(value) or value < 1:
            raise BadRequest(name, f"« {name} » doit être un entier positif")
        if value < MIN_MAX_TOKENS:
            raise BadRequest(name, f"« {name} » vaut {value} : l'assistant ne coupe pas une réponse sourcée ; "
                                   f"donnez au moins {MIN_MAX_TOKENS}, ou rien", UNSUPPORTED)
    form = body.get("response_format")
    if form is not None and not (isinstance(form, dict) and form.get("type") == "text"):
        raise BadRequest("response_format", "Seul « response_format » {\"type\": \"text\"} est possible : "
                                            "l'assistant répond en texte cité, pas en JSON", UNSUPPORTED)
    for name in ("tools", "functions"):
        if body.get(name) is not None and not isinstance(body[name], list):
            raise BadRequest(name, f"« {name} » doit être une liste")
    for name in ("tool_choice", "function_call"):
        if body.get(name) not in (None, "none", "auto"):
            raise BadRequest(name, f"L'assistant n'appelle aucun outil : « {name} » ne peut valoir que "
                                   "« none » ou « auto »", UNSUPPORTED)
    if body.get("logprobs") not in (None, False):
        raise BadRequest("logprobs", "« logprobs » n'est pas disponible : l'assistant cite des extraits, il "
                                     "n'échantillonne pas de jetons", UNSUPPORTED)
    if body.get("top_logprobs") not in (None, 0):
        raise BadRequest("top_logprobs", "« top_logprobs » n'est pas disponible (pas de « logprobs »)", UNSUPPORTED)
    stop = body.get("stop")
    if stop not in (None, "", []):
        raise BadRequest("stop", "« stop » n'est pas disponible : l'assistant ne coupe pas une réponse sourcée",
                         UNSUPPORTED)
    if body.get("modalities") not in (None, ["text"]):
        raise BadRequest("modalities", "Seule la modalité « text » est disponible", UNSUPPORTED)
    for name, what in (("audio", "de sortie audio"), ("web_search_options", "de recherche sur le web : "
                                                                            "l'assistant ne lit que son corpus")):
        if body.get(name) is not None:
            raise BadRequest(name, f"« {name} » : pas {what}", UNSUPPORTED)
