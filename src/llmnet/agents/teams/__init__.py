"""The built-in teams, by name."""

from __future__ import annotations

import difflib

from llmnet.agents.teams.assistant import AssistantTeam
from llmnet.agents.teams.base import TeamConfig, TeamRecipe
from llmnet.agents.teams.research import ResearchTeam
from llmnet.errors import InputError

TEAMS: dict[str, type[TeamRecipe]] = {ResearchTeam.name: ResearchTeam, AssistantTeam.name: AssistantTeam}

__all__ = ["TEAMS", "AssistantTeam", "ResearchTeam", "TeamConfig", "TeamRecipe", "recipe_for"]


def recipe_for(name: str) -> TeamRecipe:
    if name in TEAMS:
        return TEAMS[name]()
    close = difflib.get_close_matches(name, TEAMS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise InputError(f"unknown team {name!r}; {hint}the teams are: {', '.join(sorted(TEAMS))}")
