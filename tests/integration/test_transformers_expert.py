"""The transformers backend decodes a peft expert exactly as peft's own forward pass scores it (the pass
training optimises): greedy tokens from its cached loop equal those of re-running the whole sequence through
the peft model at every step, for a prefix-tuned expert and for a LoRA saved by peft."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from llmnet.backends import GenerationRequest
from llmnet.backends.transformers_backend import TransformersBackend
from tests.adapters import make_peft_lora, make_prefix_adapter

pytestmark = pytest.mark.integration

REQUEST = GenerationRequest.from_prompt("Name three colours.", max_tokens=10)


def greedy_without_cache(backend: TransformersBackend, steps: int) -> list[int]:
    """Each next token from the peft model over the whole sequence so far, as in training."""
    import torch

    model, ids = backend._loaded.model, backend._prompt_ids(REQUEST)
    made: list[int] = []
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft passes the prefix under transformers' deprecated argument name
        for _ in range(steps):
            seq = torch.cat([ids, torch.tensor([made], dtype=torch.long)], dim=1) if made else ids
            made.append(int(model(input_ids=seq, attention_mask=torch.ones_like(seq)).logits[0, -1].argmax()))
    return made


def served_tokens(backend: TransformersBackend) -> list[int]:
    text = backend.complete(REQUEST).text
    tokens: list[int] = backend._loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokens


@pytest.mark.parametrize("method", ["prefix", "lora"])
def test_served_greedy_text_is_peft_forward_greedy_text(method: str, tmp_path: Path) -> None:
    make: Any = make_prefix_adapter if method == "prefix" else make_peft_lora
    backend = TransformersBackend("smollm2", adapter=make(tmp_path / method), n_threads=1)
    assert f"+{method}-{str(backend.weights_sha256)[:12]}@transformers" in backend.model_id
    expected = backend._loaded.tokenizer.decode(greedy_without_cache(backend, 10), skip_special_tokens=True)
    assert backend.complete(REQUEST).text == expected.split("<|im_end|>")[0]
    plain = TransformersBackend("smollm2", n_threads=1)
    assert plain.complete(REQUEST).text != expected  # the adapter changes what the model says
