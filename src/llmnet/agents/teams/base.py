"""What a built-in team is: its settings, its roles, what the user asks it, and the file it writes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field

from llmnet.agents.client import CallSpec
from llmnet.agents.costs import Budget
from llmnet.agents.message import AgentMessage
from llmnet.agents.role import Role
from llmnet.defaults import DEFAULT_FEE_PER_RESPONDENT_WEI, DEFAULT_MAX_TOKENS, AnswerTokens, RespondentsPerTask

DEFAULT_BASE_URL = "http://127.0.0.1:8300/v1"  # `llmnet up`


class TeamConfig(BaseModel):
    """A run's settings, stored with the run so that ``llmnet team resume`` rebuilds the same team."""

    team: str
    inputs: list[str] = Field(min_length=1)  # the research topic, or the user's turns
    base_urls: list[str] = Field(default_factory=lambda: [DEFAULT_BASE_URL], min_length=1)
    budget: Budget = Field(default_factory=Budget)
    n_round: int = Field(default=12, ge=1, le=1000)
    report_path: Path
    corpus: Path | None = None
    max_passages: int = Field(default=4, ge=1, le=50)
    max_tokens: AnswerTokens = DEFAULT_MAX_TOKENS
    k: RespondentsPerTask = 1  # respondents per call
    models: list[str] | None = None  # overrides every action's models, in order of preference
    fee_per_respondent_wei: int = Field(default=DEFAULT_FEE_PER_RESPONDENT_WEI, ge=0)  # the coordinator's default
    timeout_s: float = Field(default=120.0, gt=0)

    def spec(self, models: tuple[str, ...], max_tokens: int | None = None) -> CallSpec:
        """An action's call: its own models unless the run overrides them, the run's fee and limits."""
        chosen = tuple(self.models) if self.models else models
        return CallSpec(models=chosen, k=self.k, max_tokens=max_tokens or self.max_tokens, timeout_s=self.timeout_s)


class TeamRecipe(ABC):
    name: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def roles(self, config: TeamConfig) -> list[Role]:
        """The roles to hire, in the order they act within a round."""

    @abstractmethod
    def requirements(self, config: TeamConfig) -> list[AgentMessage]:
        """What the user asks, published when the run starts."""

    @abstractmethod
    def report(self, config: TeamConfig, history: list[AgentMessage]) -> str | None:
        """The Markdown the run writes to ``config.report_path``; None while it is not ready."""
