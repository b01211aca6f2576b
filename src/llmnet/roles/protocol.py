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
    max_tokens: int = Field(default=128, ge=1, le=4096)
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


class Outcome(BaseModel):
    """A finished task as the coordinator hands it to the settling validator.

    ``receipt`` is the receipt the requester got; ``receipt_hash`` its content
    hash (a leaf of the batch's Merkle root on chain); ``signature`` is the
    coordinator's EIP-191 signature over that hash.
    """

    task_id: int  # on-chain id
    task_key: int  # the id the signed assignments, responses and ratings carry
    domain: str
    fee: int
    requester: str
    coordinator: str
    responses: list[dict[str, Any]]  # final-round SignedMessage[Response] dicts
    ratings: list[dict[str, Any]]  # SignedMessage[Rating] dicts from every validator
    failed: list[str] = Field(default_factory=list)
    receipt: dict[str, Any]
    receipt_hash: str
    signature: str = ""

    def check_receipt(self) -> None:
        """The receipt hash is the receipt's, and the receipt's coordinator signed it."""
        from llmnet.errors import LlmnetError, SignatureError
        from llmnet.signing import personal_digest, recover_digest

        if content_hash(canonical_json(self.receipt)) != self.receipt_hash:
            raise SignatureError(f"receipt hash of task {self.task_id} does not match its receipt")
        try:
            signer = recover_digest(personal_digest(self.receipt_hash), self.signature)
        except LlmnetError:
            raise SignatureError(f"receipt of task {self.task_id} carries a malformed signature") from None
        if signer != self.coordinator:
            raise SignatureError(f"receipt of task {self.task_id} was not signed by its coordinator")


class SettleRequest(BaseModel):
    outcomes: list[Outcome] = Field(min_length=1)


class SettleReply(BaseModel):
    accepted: int
    queued: int
