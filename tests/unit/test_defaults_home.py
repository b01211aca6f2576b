"""A task's defaults and limits live in llmnet.defaults; every layer that takes them agrees with it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from llmnet.agents.client import CallSpec
from llmnet.api.openai_app import CoordinatorSpec
from llmnet.api.schema import ChatCompletionRequest
from llmnet.cli.main import full_app
from llmnet.defaults import (
    DEFAULT_FEE_PER_RESPONDENT_WEI,
    DEFAULT_K,
    DEFAULT_MAX_TOKENS,
    DEFAULT_ROUNDS,
    MAX_K,
    MAX_ROUNDS,
    MAX_TOKENS,
)
from llmnet.errors import InputError
from llmnet.launcher import NetworkOptions
from llmnet.roles.coordinator import CoordinatorSettings
from llmnet.roles.protocol import Message, RespondPayload


def test_every_layer_has_the_same_defaults() -> None:
    settings, options = CoordinatorSettings(), NetworkOptions()
    assert (settings.k, settings.rounds, settings.max_tokens) == (DEFAULT_K, DEFAULT_ROUNDS, DEFAULT_MAX_TOKENS)
    assert (options.k, options.rounds, options.max_tokens) == (DEFAULT_K, DEFAULT_ROUNDS, DEFAULT_MAX_TOKENS)
    assert options.fee_per_respondent_wei == DEFAULT_FEE_PER_RESPONDENT_WEI
    assert CoordinatorSpec.model_fields["fee_per_respondent_wei"].default == DEFAULT_FEE_PER_RESPONDENT_WEI
    assert RespondPayload(messages=[Message(role="user", content="hi")]).max_tokens == DEFAULT_MAX_TOKENS
    assert CallSpec().max_tokens == DEFAULT_MAX_TOKENS


def request(**llmnet: Any) -> dict[str, Any]:
    return {"model": "llmnet/auto", "messages": [{"role": "user", "content": "hi"}], "llmnet": llmnet}


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (CoordinatorSettings, {"k": MAX_K + 1}),
        (CoordinatorSettings, {"rounds": MAX_ROUNDS + 1}),
        (CoordinatorSettings, {"max_tokens": MAX_TOKENS + 1}),
        (ChatCompletionRequest, request(k=MAX_K + 1)),
        (ChatCompletionRequest, request(rounds=MAX_ROUNDS + 1)),
        (ChatCompletionRequest, request() | {"max_tokens": MAX_TOKENS + 1}),
    ],
)
def test_every_layer_has_the_same_limits(model: type[BaseModel], fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(fields)
    at_limit = {k: (v - 1 if isinstance(v, int) else v) for k, v in fields.items()}
    if "llmnet" in fields:
        at_limit["llmnet"] = {k: v - 1 for k, v in fields["llmnet"].items()}
    model.model_validate(at_limit)


def test_agent_calls_and_the_cli_hold_the_same_k_limit() -> None:
    CallSpec(k=MAX_K)
    with pytest.raises(InputError, match=f"between 1 and {MAX_K}"):
        CallSpec(k=MAX_K + 1)
    result = CliRunner().invoke(full_app(), ["up", "--k", str(MAX_K + 1)])
    assert result.exit_code == 2 and "--k" in result.output
