"""An action: a prompt and a run method. A role runs one on the messages that triggered it and
publishes what it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from llmnet.agents.client import CallSpec, NetworkLLM
from llmnet.agents.message import EVERYONE, AgentMessage


@dataclass(frozen=True)
class Draft:
    """What an action produced; its role turns it into a message."""

    content: str
    send_to: frozenset[str] = frozenset({EVERYONE})
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Persona:
    """Who is acting, told to the model as a system message."""

    name: str
    profile: str
    goal: str
    constraints: str = ""

    def system_prompt(self) -> str:
        text = f"You are {self.name}, a {self.profile}. Your goal: {self.goal}."
        return f"{text} Constraints: {self.constraints}." if self.constraints else text


@dataclass
class ActionContext:
    llm: NetworkLLM
    persona: Persona
    memory: Sequence[AgentMessage]  # what the role received
    history: Sequence[AgentMessage] = ()  # the whole conversation so far

    def ask(self, action: str, prompt: str, spec: CallSpec) -> str:
        """One call through the network with the persona as system message; the reply's text."""
        messages = [{"role": "system", "content": self.persona.system_prompt()}, {"role": "user", "content": prompt}]
        return self.llm.ask(action, messages, spec).text.strip()


class Action(ABC):
    """``prompt`` is the action's template; ``spec`` how it calls the network (domain, fee, tokens)."""

    name: ClassVar[str]
    prompt: ClassVar[str] = ""

    def __init__(self, spec: CallSpec | None = None) -> None:
        self.spec = spec or CallSpec()

    @abstractmethod
    def run(self, ctx: ActionContext, trigger: Sequence[AgentMessage]) -> list[Draft]:
        """Act on the triggering messages; what to publish."""
