"""What roles say to each other: a message and the rule that decides who receives it."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

EVERYONE = "<all>"
USER_REQUIREMENT = "UserRequirement"  # cause_by of what the user asks a team for


class AgentMessage(BaseModel):
    """One message of a team's conversation (MetaGPT's shape, plus what a resumed run needs).

    ``reply_to`` names the messages this one answers: replaying the history tells each role
    which messages it already handled, so a resumed run repeats no finished action.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid4().hex)
    content: str
    role: str  # the sender's profile ("user" for a requirement)
    cause_by: str  # the action that produced it
    sent_from: str  # the sender's name
    send_to: frozenset[str] = frozenset({EVERYONE})
    reply_to: tuple[str, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)  # structured payload: keywords, passages, intent


def addressed_to(message: AgentMessage, name: str, watch: frozenset[str]) -> bool:
    """A role receives a message it is named in, or one caused by an action it watches (never its own,
    unless it names itself)."""
    if name in message.send_to:
        return True
    return message.sent_from != name and message.cause_by in watch


def requirement(content: str, **data: Any) -> AgentMessage:
    """What the user asks the team for."""
    return AgentMessage(content=content, role="user", cause_by=USER_REQUIREMENT, sent_from="user", data=data)
