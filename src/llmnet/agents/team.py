"""A team: an environment of hired roles, a cost manager with its budget, and rounds in which every
role acts on what it has received. Every action's messages are stored before they are delivered, so
a run stopped at any point resumes from its history (:meth:`Team.resume`)."""

from __future__ import annotations

from collections.abc import Iterable

from llmnet.agents.client import NetworkLLM
from llmnet.agents.costs import Budget
from llmnet.agents.environment import Environment
from llmnet.agents.message import AgentMessage
from llmnet.agents.role import Role
from llmnet.agents.runs import RunStore
from llmnet.errors import BudgetExceeded, ConfigError, LlmnetError


class TeamEvents:
    """What a display may want to follow; every method does nothing by default."""

    def round_started(self, n: int, total: int) -> None: ...

    def acting(self, role: Role, action: str) -> None: ...

    def published(self, message: AgentMessage, recipients: list[Role]) -> None: ...


class Team:
    def __init__(self, run_id: str, store: RunStore, llm: NetworkLLM, events: TeamEvents | None = None) -> None:
        self.run_id, self.store, self.llm = run_id, store, llm
        self.events = events or TeamEvents()
        self.env = Environment(persist=lambda messages: store.add_messages(run_id, messages))

    def hire(self, roles: Iterable[Role]) -> None:
        self.env.add_roles(roles)

    def invest(self, budget: Budget) -> None:
        """Set the budget every later call is checked against."""
        self.llm.costs.budget = budget

    def run_project(self, requirements: list[AgentMessage]) -> None:
        """Start a new run with what the user asks for."""
        if self.env.history:
            raise ConfigError(f"run {self.run_id} has already started; resume it instead")
        self._publish(requirements)

    def resume(self) -> int:
        """Rebuild the roles' state from the stored history; returns the number of messages replayed."""
        history = self.store.messages(self.run_id)
        self.env.replay(history)
        return len(history)

    def run(self, n_round: int) -> str:
        """Run rounds (in each, the roles act in hiring order) until nothing is left to do or ``n_round``
        rounds have passed; returns the run's status: finished or stopped. A budget stop or a failure is
        recorded in the run and raised."""
        try:
            status = self._rounds(n_round)
        except BudgetExceeded as exc:
            self.store.set_status(self.run_id, "stopped", str(exc))
            raise
        except LlmnetError as exc:
            self.store.set_status(self.run_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        self.store.set_status(self.run_id, status)
        return status

    def _rounds(self, n_round: int) -> str:
        done = self.store.run(self.run_id).rounds_done
        for n in range(done, n_round):
            if self.env.idle():
                return "finished"
            self.events.round_started(n + 1, n_round)
            for role in list(self.env.roles.values()):
                for trigger in role.triggers():
                    self.events.acting(role, role.action_for(trigger).name)
                    self._publish(role.act(trigger, self.llm, self.env.history))
            self.store.round_done(self.run_id, n + 1)
        return "finished" if self.env.idle() else "stopped"

    def _publish(self, messages: list[AgentMessage]) -> None:
        if not messages:
            raise ConfigError("an action must publish at least one message, or its trigger would never be handled")
        for message, recipients in zip(messages, self.env.publish(messages), strict=True):
            self.events.published(message, recipients)
