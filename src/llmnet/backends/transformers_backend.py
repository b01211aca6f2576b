"""A GGUF base model run by transformers (PyTorch, CPU) with a peft adapter: how prompt-tuned experts are served.

    backend = TransformersBackend("smollm2", adapter=Path("run/prefix"))  # a prefix-tuned (P-tuning v2) expert
    backend.complete(GenerationRequest.from_prompt("What is the capital of Varn?")).text

llama.cpp cannot apply trained prefixes, so this backend runs them: the base weights come from the GGUF file
(:func:`llmnet.tuning.base.load_base`), the adapter folder is what ``save_pretrained`` wrote (prefix tuning or
LoRA). Decoding is greedy, by a manual loop: ``generate()`` in transformers 5 drops a peft prefix. The prompt goes
through the base model after the prefix's keys and values (as peft's own forward pass puts them), then each
new token with the cache that pass made.

Answers are deterministic on one machine, but PyTorch float math is not promised bit-identical across
machines, so validators do not re-execute prefix-tuned answers (see :mod:`llmnet.roles.spotcheck`).
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmnet.backends.base import Backend, Chunk, GenerationRequest, Usage
from llmnet.backends.llamacpp import DEFAULT_FEW_SHOT, Mode, few_shot_prompt
from llmnet.backends.stops import StopScanner
from llmnet.backends.weights import MODELS, weights_sha256
from llmnet.errors import BackendError, BackendUnavailable, ConfigError

# in every model id of this backend: validators do not re-run its answers with llama.cpp (roles.spotcheck)
RUNTIME_MARK = "@transformers"
ADAPTER_WEIGHTS = "adapter_model.safetensors"  # what peft's save_pretrained writes in an adapter folder
_LOADED: dict[tuple[str, str | None], Loaded] = {}
_LOAD_LOCK = threading.Lock()
_END = object()


@dataclass(frozen=True)
class Loaded:
    model: Any  # the peft model (or the base, without an adapter)
    base: Any  # the base model; with a LoRA adapter its layers carry the adapter too
    tokenizer: Any
    lock: threading.Lock
    virtual_tokens: int = 0  # a prefix adapter's length: its keys and values come before the prompt's


def base_path(base: str | Path) -> Path:
    """A packaged model's GGUF file by name, or a GGUF file by path."""
    if str(base) in MODELS:
        return MODELS[str(base)]()
    path = Path(base)
    if path.suffix.lower() != ".gguf" or not path.is_file():
        raise ConfigError(f"base model {str(base)!r} is neither a packaged model ({', '.join(sorted(MODELS))}) "
                          "nor an existing .gguf file; name one of those")  # fmt: skip
    return path


def adapter_weights(folder: Path) -> Path:
    """The weights file of a peft adapter folder."""
    path = folder / ADAPTER_WEIGHTS
    if not path.is_file():
        raise BackendUnavailable(f"no peft adapter in {folder} (no {ADAPTER_WEIGHTS}); give the folder "
                                 "`llmnet expert train` wrote for a prefix-tuned expert (run/prefix)")  # fmt: skip
    return path


def _load(path: Path, adapter: Path | None) -> Loaded:
    key = (str(path.resolve()), str(adapter.resolve()) if adapter else None)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _read(path, adapter)
        return _LOADED[key]


def _read(path: Path, adapter: Path | None) -> Loaded:
    from llmnet.tuning.base import BaseModel, load_base

    base = BaseModel(path.stem, path, weights_sha256(path), licence="", mode="chat")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # transformers' and peft's notes on GGUF de-quantizing and local configs
            model, tokenizer = load_base(base)
            if adapter is None:
                return Loaded(model.eval(), model, tokenizer, threading.Lock())
            from peft import PeftModel

            peft_model = PeftModel.from_pretrained(model, str(adapter)).eval()
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise BackendUnavailable(f"transformers could not load {path} with adapter {adapter}: {e}") from e
    config = peft_model.active_peft_config
    virtual = int(config.num_virtual_tokens) if config.is_prompt_learning else 0
    return Loaded(peft_model, peft_model.get_base_model(), tokenizer, threading.Lock(), virtual)


class TransformersBackend(Backend):
    """``base`` (a packaged name or a GGUF path) with an optional peft ``adapter`` folder, greedy on the CPU.

    ``weights_sha256`` is the adapter's weights file (the expert's artifact), ``base_sha256`` the base's."""

    deterministic = True

    def __init__(self, base: str | Path = "smollm2", *, adapter: str | Path | None = None, mode: Mode = "chat",
                 n_threads: int = 1, few_shot: tuple[tuple[str, str], ...] = DEFAULT_FEW_SHOT) -> None:  # fmt: skip
        if mode not in ("chat", "completion"):
            raise ConfigError(f"unknown transformers mode {mode!r}; use 'chat' or 'completion'")
        self.path = base_path(base)
        self.adapter = Path(adapter) if adapter is not None else None
        self.mode, self.few_shot = mode, few_shot
        self.base_sha256 = weights_sha256(self.path)
        self.weights_sha256 = weights_sha256(adapter_weights(self.adapter)) if self.adapter else self.base_sha256
        name = f"{self.path.stem}+prefix-{self.weights_sha256[:12]}" if self.adapter else self.path.stem
        self.model_id = f"{name}{RUNTIME_MARK}" + ("" if mode == "chat" else f":{mode}")
        _set_threads(n_threads)
        self._loaded = _load(self.path, self.adapter)

    def weight_files(self) -> dict[str, Path]:
        files = {self.base_sha256: self.path}
        if self.adapter is not None:
            files[str(self.weights_sha256)] = adapter_weights(self.adapter)
        return files

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        events: queue.Queue[object] = queue.Queue()
        cancelled = threading.Event()
        worker = threading.Thread(target=self._run, args=(request, events, cancelled), daemon=True)
        worker.start()
        try:
            while (event := events.get()) is not _END:
                if isinstance(event, Exception):
                    raise event
                assert isinstance(event, Chunk)
                yield event
        finally:
            cancelled.set()  # the worker stops at its next token if the caller stopped reading

    def _run(self, request: GenerationRequest, events: queue.Queue[object], cancelled: threading.Event) -> None:
        try:
            with self._loaded.lock:
                for chunk in self._decode(request, cancelled):
                    events.put(chunk)
        except Exception as e:
            events.put(BackendError(f"transformers failed on {self.model_id}: {e}"))
        finally:
            events.put(_END)

    def _prompt_ids(self, request: GenerationRequest) -> Any:
        tokenizer = self._loaded.tokenizer
        if self.mode == "completion":
            text = few_shot_prompt(request.messages, self.few_shot)
            return tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)  # fmt: skip
        return encoded["input_ids"]

    def _decode(self, request: GenerationRequest, cancelled: threading.Event) -> Iterator[Chunk]:
        import torch

        ids = self._prompt_ids(request)
        stops = ("\n", *request.stop) if self.mode == "completion" else request.stop
        text = IncrementalText(self._loaded.tokenizer, lstrip=self.mode == "completion")
        scanner, made, reason, eos = StopScanner(stops), 0, "length", self._eos()
        with torch.inference_mode():
            for token in self._greedy(ids, request.max_tokens, cancelled):
                made += 1
                if token in eos:
                    reason = "stop"
                    break
                piece, stopped = scanner.feed(text.add(token))
                if piece:
                    yield Chunk(piece)
                if stopped:
                    yield Chunk("", "stop", Usage(int(ids.shape[1]), made))
                    return
        if tail := scanner.flush():
            yield Chunk(tail)
        yield Chunk("", reason, Usage(int(ids.shape[1]), made))

    def _greedy(self, ids: Any, max_tokens: int, cancelled: threading.Event) -> Iterator[int]:
        import torch

        loaded = self._loaded
        cache = loaded.model.get_prompt(1) if loaded.virtual_tokens else None  # the prefix's keys and values
        mask = torch.ones(1, loaded.virtual_tokens + ids.shape[1], dtype=torch.long)
        out = loaded.base(input_ids=ids, cache=cache, attention_mask=mask, use_cache=True)
        for _ in range(max_tokens):
            if cancelled.is_set():
                return
            token = int(out.logits[0, -1].argmax())
            yield token
            cache = out.cache
            mask = torch.ones(1, cache.get_seq_length() + 1, dtype=torch.long)
            out = self._loaded.base(input_ids=torch.tensor([[token]]), cache=cache, attention_mask=mask, use_cache=True)

    def _eos(self) -> frozenset[int]:
        tokenizer, config = self._loaded.tokenizer, self._loaded.base.generation_config
        found = config.eos_token_id if config is not None else None
        ids = found if isinstance(found, list) else [found]
        return frozenset(i for i in (*ids, tokenizer.eos_token_id) if i is not None)


class IncrementalText:
    """Token ids in, new text out: a piece is given only once it decodes to whole characters (a UTF-8
    character split over tokens waits for its last byte)."""

    def __init__(self, tokenizer: Any, *, lstrip: bool = False) -> None:
        self.tokenizer, self.lstrip = tokenizer, lstrip
        self.ids: list[int] = []
        self.given = 0

    def add(self, token: int) -> str:
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if self.lstrip:
            text = text.lstrip()
        if text.endswith("\ufffd"):
            return ""
        piece, self.given = text[self.given :], len(text)
        return piece


def _set_threads(n_threads: int) -> None:
    import torch

    if n_threads < 1:
        raise ConfigError(f"n_threads is {n_threads}; use 1 or more")
    torch.set_num_threads(n_threads)  # process-wide in PyTorch: the last backend made sets it
