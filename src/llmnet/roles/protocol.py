"""What coordinator, respondents and validators send each other over HTTP.

Every request a respondent serves carries a ``TaskAssignment`` signed by a
coordinator, whose ``content_hash`` commits to the exact payload (messages,
peers' previous answers, round, generation settings); every answer comes back
as a ``Response`` signed by the respondent, whose ``content_hash`` is the hash
of the answer text; every rate request carries a ``RatingAssignment`` signed
by the coordinator for one validator, committing to the whole request; every
rating is a ``Rating`` signed by a validator over that response hash.
Receivers verify all of it, and refuse an assignment they have seen before.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from llmnet.backends.base import ChatMessage, GenerationRequest
from llmnet.defaults import DEFAULT_MAX_TOKENS, AnswerTokens
from llmnet.roles.outcome import Outcome
from llmnet.store import canonical_json, content_hash


class Message(BaseModel):
    role: str
    content: str


class PeerAnswer(BaseModel):
    """Another respondent's answer from the previous round (collaborative prompting)."""

    respondent: str
    text: str


class RespondPayload(BaseModel):
    messages: list[Message] = Field(min_length=1)
    peers: list[PeerAnswer] = Field(default_factory=list)
    round: int = 0
    max_tokens: AnswerTokens = DEFAULT_MAX_TOKENS
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = 0

    def digest(self) -> str:
        """The hash a TaskAssignment's content_hash must equal."""
        return content_hash(canonical_json(self.model_dump()))

    def generation_request(self) -> GenerationRequest:
        messages = [ChatMessage(m.role, m.content) for m in self.messages]
        if self.peers:
            # a note just before the question: the question stays the last user turn, which
            # experts retrieve for and small models answer best
            last = max(i for i, m in enumerate(messages) if m.role == "user")
            messages.insert(last, ChatMessage("system", debate_prompt(self.peers)))
        return GenerationRequest(
            tuple(messages), max_tokens=self.max_tokens, temperature=self.temperature, seed=self.seed
        )


def debate_prompt(peers: list[PeerAnswer]) -> str:
    """The others' previous answers, for a respondent to weigh before answering again."""
    lines = [f"- {p.text.strip()}" for p in peers]
    return (
        "Other assistants answered the next question like this:\n"
        + "\n".join(lines)
        + ("\nKeep what is correct, fix what is wrong, and answer in one sentence.")
    )


class RespondRequest(BaseModel):
    assignment: dict[str, Any]  # SignedMessage[TaskAssignment].to_dict()
    payload: RespondPayload
    stream: bool = False


class RespondReply(BaseModel):
    response: dict[str, Any]  # SignedMessage[Response].to_dict()
    text: str
    sources: list[str] = Field(default_factory=list)
    latency_s: float = 0.0


class RatedAnswer(BaseModel):
    respondent: str
    text: str
    response: dict[str, Any]  # SignedMessage[Response].to_dict()
    request: RespondPayload | None = None  # what the respondent was asked, so it can be re-run (spot checks)


class SpotCheckRequest(BaseModel):
    response: dict[str, Any]  # SignedMessage[Response].to_dict()
    request: RespondPayload


class SpotCheckReply(BaseModel):
    attestation: dict[str, Any] | None  # SignedMessage[SpotCheck].to_dict() when the re-run differs


class RateRequest(BaseModel):
    task_id: int
    round: int = 0
    question: str
    domain: str = "general"  # the question's: a validator holding that domain's documents checks answers against them
    answers: list[RatedAnswer] = Field(min_length=1)
    reference: str | None = None
    # SignedMessage[RatingAssignment].to_dict(): the coordinator that asks, for this validator
    assignment: dict[str, Any] = Field(default_factory=dict)

    def digest(self) -> str:
        """The hash a RatingAssignment's content_hash must equal: everything but the assignment."""
        return content_hash(canonical_json(self.model_dump(mode="json", exclude={"assignment"})))


class RateReply(BaseModel):
    validator: str
    ratings: list[dict[str, Any]]  # SignedMessage[Rating].to_dict() per answer


class SettleRequest(BaseModel):
    """Finished tasks for the settler, from the coordinator that ran them."""

    outcomes: list[Outcome] = Field(min_length=1, max_length=1000)


class Refusal(BaseModel):
    task_id: int  # as claimed
    reason: str


class SettleReply(BaseModel):
    accepted: int  # newly queued
    queued: int  # waiting in the queue now
    refused: list[Refusal] = Field(default_factory=list)


class SettlementState(BaseModel):
    """How far one task's settlement got: queued, submitted, settled, or set aside (with why)."""

    task_id: int
    state: str
    batch_id: int | None = None
    tx_hash: str | None = None
    reason: str | None = None
