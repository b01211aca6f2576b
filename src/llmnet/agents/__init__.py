"""Agent teams on the network: roles with actions exchange messages through an environment, every
LLM call goes through an llmnet coordinator (domain and fee per action), costs are metered against a
budget, failures are retried and routed around, and every message is stored so a run can resume.

    Role, Action, Environment, Team     the framework (MetaGPT's shape)
    NetworkLLM, CallSpec                calls through the coordinator's OpenAI-compatible API
    CostManager, Budget                 tokens and fees from receipts; the stop before a call too many
    RunStore                            durable runs: settings, messages, calls
    llmnet.agents.teams                 the built-in research and assistant teams
"""

from llmnet.agents.action import Action, ActionContext, Draft, Persona
from llmnet.agents.client import CallSpec, NetworkLLM
from llmnet.agents.costs import Budget, CallCost, CostManager
from llmnet.agents.environment import Environment
from llmnet.agents.message import EVERYONE, AgentMessage, requirement
from llmnet.agents.role import Role
from llmnet.agents.routing import RetryPolicy, Route
from llmnet.agents.runs import RunStore
from llmnet.agents.team import Team, TeamEvents

__all__ = [
    "EVERYONE", "Action", "ActionContext", "AgentMessage", "Budget", "CallCost", "CallSpec", "CostManager", "Draft",
    "Environment", "NetworkLLM", "Persona", "RetryPolicy", "Role", "Route", "RunStore", "Team", "TeamEvents",
    "requirement",
]  # fmt: skip
