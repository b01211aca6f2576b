"""Start and resume team runs: the team, its client and budget are rebuilt from the stored settings
and history, and the report is written once the team has produced it.

    outcome = start_run(config, api_key, RunStore(path))
    outcome = resume_run(outcome.run_id, api_key, RunStore(path))
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

from llmnet.agents.client import CallEvents, NetworkLLM
from llmnet.agents.costs import Budget, CostManager
from llmnet.agents.routing import RetryPolicy
from llmnet.agents.runs import RunStore
from llmnet.agents.team import Team, TeamEvents
from llmnet.agents.teams import TeamConfig, recipe_for
from llmnet.errors import InputError


@dataclass
class RunOutcome:
    run_id: str
    status: str  # finished | stopped (rounds used up)
    report_path: Path | None  # written when the team produced its report
    calls: int
    total_tokens: int
    total_wei: int


@dataclass
class RunHooks:
    team: TeamEvents = field(default_factory=TeamEvents)
    calls: CallEvents = field(default_factory=CallEvents)
    policy: RetryPolicy = field(default_factory=RetryPolicy)


def new_run_id() -> str:
    return uuid4().hex[:12]


def start_run(config: TeamConfig, api_key: str, store: RunStore, hooks: RunHooks | None = None,
              run_id: str | None = None) -> RunOutcome:  # fmt: skip
    recipe = recipe_for(config.team)  # an unknown team is refused before anything is stored
    run_id = run_id or new_run_id()
    store.create(run_id, config.team, config.model_dump_json())
    with store.claim(run_id):
        team = _team(run_id, config, api_key, store, hooks or RunHooks())
        team.run_project(recipe.requirements(config))
        return _run(team, config)


def resume_run(run_id: str, api_key: str, store: RunStore, hooks: RunHooks | None = None,
               budget: Budget | None = None, n_round: int | None = None,
               base_urls: list[str] | None = None) -> RunOutcome:  # fmt: skip
    """Continue a stopped, failed or killed run; ``budget``, ``n_round`` and ``base_urls`` replace the
    stored ones when given."""
    record = store.run(run_id)
    config = TeamConfig.model_validate_json(record.config)
    changes: dict[str, object] = {"budget": budget, "n_round": n_round, "base_urls": base_urls or None}
    config = config.model_copy(update={k: v for k, v in changes.items() if v is not None})
    with store.claim(run_id):
        store.set_status(run_id, "running", config=config.model_dump_json())
        team = _team(run_id, config, api_key, store, hooks or RunHooks())
        team.resume()
        return _run(team, config)


def _team(run_id: str, config: TeamConfig, api_key: str, store: RunStore, hooks: RunHooks) -> Team:
    costs = CostManager(config.budget, config.fee_per_respondent_wei, store.calls(run_id),
                        persist=lambda cost: store.add_call(run_id, cost))  # fmt: skip
    llm = NetworkLLM(config.base_urls, api_key, costs, hooks.policy, events=hooks.calls)
    team = Team(run_id, store, llm, hooks.team)
    team.hire(recipe_for(config.team).roles(config))
    return team


def _run(team: Team, config: TeamConfig) -> RunOutcome:
    status = team.run(config.n_round)
    report = recipe_for(config.team).report(config, team.env.history)
    path = _write(config.report_path, report) if report is not None else None
    costs = team.llm.costs
    return RunOutcome(team.run_id, status, path, len(costs.calls), costs.total_tokens, costs.total_wei)


def _write(path: Path, text: str) -> Path:
    """Write the report whole or not at all (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    partial.replace(path)
    return path


def check_inputs(team: str, inputs: list[str]) -> None:
    """Refuse empty input before a run is created."""
    recipe_for(team)
    if not [t for t in inputs if t.strip()]:
        raise InputError(f'the {team} team needs something to work on, e.g. llmnet team run {team} "a topic"')
