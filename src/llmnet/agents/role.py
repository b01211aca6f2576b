"""A role: a persona that watches kinds of messages and reacts to each with one of its actions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from llmnet.agents.action import Action, ActionContext, Persona
from llmnet.agents.client import NetworkLLM
from llmnet.agents.message import AgentMessage, addressed_to
from llmnet.errors import ConfigError


class Role:
    """``reactions`` maps a message's ``cause_by`` to the action that answers it. The role watches
    those kinds of message (or only ``watch``, when given: an empty set for a role that acts only on
    messages sent to it by name), and receives any message that names it.

    A role remembers every message delivered to it and which of them it has answered, so after a
    replay of the history it knows what is still to do.
    """

    def __init__(self, persona: Persona, reactions: dict[str, Action], watch: Iterable[str] | None = None) -> None:
        self.persona = persona
        self.reactions = dict(reactions)
        self._watch = frozenset(self.reactions if watch is None else watch)
        self.memory: list[AgentMessage] = []
        self.handled: set[str] = set()

    @property
    def name(self) -> str:
        return self.persona.name

    @property
    def watch(self) -> frozenset[str]:
        return self._watch

    def receives(self, message: AgentMessage) -> bool:
        return addressed_to(message, self.name, self.watch)

    def receive(self, message: AgentMessage) -> None:
        self.memory.append(message)

    def sent(self, message: AgentMessage) -> None:
        """One of this role's own messages was published: what it answered is handled."""
        self.handled.update(message.reply_to)

    def pending(self) -> list[AgentMessage]:
        return [m for m in self.memory if m.id not in self.handled]

    def triggers(self) -> list[list[AgentMessage]]:
        """Groups of pending messages to act on now, one action each; by default every message alone.
        A role that needs several messages together (a writer waiting for all notes) overrides this."""
        return [[m] for m in self.pending() if m.cause_by in self.reactions]

    def act(
        self, trigger: Sequence[AgentMessage], llm: NetworkLLM, history: Sequence[AgentMessage] = ()
    ) -> list[AgentMessage]:
        action = self.action_for(trigger)
        drafts = action.run(ActionContext(llm, self.persona, tuple(self.memory), tuple(history)), trigger)
        reply_to = tuple(m.id for m in trigger)
        return [
            AgentMessage(
                content=d.content,
                role=self.persona.profile,
                cause_by=action.name,
                sent_from=self.name,
                send_to=d.send_to,
                reply_to=reply_to,
                data=d.data,
            )
            for d in drafts
        ]

    def action_for(self, trigger: Sequence[AgentMessage]) -> Action:
        for message in reversed(trigger):
            if message.cause_by in self.reactions:
                return self.reactions[message.cause_by]
        raise ConfigError(f"role {self.name} has no action for messages caused by {[m.cause_by for m in trigger]}")
