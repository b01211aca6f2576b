"""The body of ``POST /v1/chat/completions``, typed as strictly as OpenAI types it.

Numbers, booleans and strings are not converted into one another: ``"stream": "yes"``,
``"max_tokens": "10"`` or ``"temperature": "0.5"`` are refused with a 400 naming the field, as
OpenAI refuses them (a float field accepts an integer, as OpenAI's does). Fields of OpenAI's API
that llmnet does not use are accepted and ignored, so every OpenAI client works unchanged; the
``llmnet`` block is llmnet's own and refuses fields it does not know.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmnet.defaults import AnswerTokens, DebateRounds, RespondentsPerTask


class ContentPart(BaseModel):
    model_config = ConfigDict(strict=True)

    type: str
    text: str = ""


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(strict=True)

    role: Literal["system", "user", "assistant"]
    content: str | list[ContentPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if p.type == "text")


class LlmnetOptions(BaseModel):
    """The request's ``llmnet`` block: how the network answers it (the coordinator's spec sets the defaults)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    k: RespondentsPerTask | None = Field(default=None, description="respondents that answer")
    rounds: DebateRounds | None = Field(default=None, description="debate rounds after the first answers")
    collaboration: Literal["adaptive", "fixed"] | None = Field(
        default=None,
        description="adaptive: one respondent first, more and rounds only when its answer is not rated confidently;"
        " fixed: k respondents and every round. Setting k or rounds means fixed unless this says otherwise.",
    )


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completion request; ``model`` is ``llmnet/auto`` or ``llmnet/<domain>``."""

    model_config = ConfigDict(strict=True)

    model: str
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    max_tokens: AnswerTokens | None = None
    max_completion_tokens: AnswerTokens | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    llmnet: LlmnetOptions = Field(default_factory=LlmnetOptions)

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, value: list[ChatMessageIn]) -> list[ChatMessageIn]:
        if not value:
            raise ValueError("messages must contain at least one message")
        if not any(m.role == "user" and m.text().strip() for m in value):
            raise ValueError("messages must contain a non-empty user message")
        return value


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: str


class Usage(BaseModel):
    """The final answer's tokens, as its respondent counted them."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """The answer to a chat completion request that does not stream (one that streams gets
    ``chat.completion.chunk`` events, the last with ``usage`` and ``llmnet``)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    llmnet: dict[str, Any] = Field(description="task_id, receipt_hash, the receipt, and every respondent's answer")
