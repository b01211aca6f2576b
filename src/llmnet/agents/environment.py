"""The environment: the roles of a team, the history, and delivery of each message to the roles
that watch it or are named in it. A message is stored durably before anyone sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from llmnet.agents.message import AgentMessage
from llmnet.agents.role import Role
from llmnet.errors import ConfigError

Persist = Callable[[list[AgentMessage]], None]


class Environment:
    def __init__(self, persist: Persist = lambda messages: None) -> None:
        self.roles: dict[str, Role] = {}
        self.history: list[AgentMessage] = []
        self.persist = persist

    def add_roles(self, roles: Iterable[Role]) -> None:
        for role in roles:
            if role.name in self.roles or role.name == "user":
                raise ConfigError(f"a team cannot have two roles named {role.name!r}; give each a distinct name")
            self.roles[role.name] = role

    def recipients(self, message: AgentMessage) -> list[Role]:
        return [role for role in self.roles.values() if role.receives(message)]

    def publish(self, messages: list[AgentMessage]) -> list[list[Role]]:
        """Store the messages of one action together, then deliver them; returns who got each."""
        self.persist(messages)
        return [self._deliver(m) for m in messages]

    def replay(self, history: Iterable[AgentMessage]) -> None:
        """Rebuild every role's memory, and what it has answered, from a stored history."""
        for message in history:
            self._deliver(message)

    def _deliver(self, message: AgentMessage) -> list[Role]:
        self.history.append(message)
        sender = self.roles.get(message.sent_from)
        if sender is not None:
            sender.sent(message)
        to = self.recipients(message)
        for role in to:
            role.receive(message)
        return to

    def idle(self) -> bool:
        return not any(role.triggers() for role in self.roles.values())
