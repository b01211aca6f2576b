"""What a task is by default, and at most: the one home of these numbers.

Every layer that takes them refers here: the coordinator's settings (and so its config file),
the ``llmnet`` block of an OpenAI request, the payload a respondent is sent, ``llmnet up``, the
agents' calls and the CLI. The module imports nothing heavy, so the API schema can use it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

DEFAULT_K = 3  # respondents per task
# the escrow takes up to 32 respondents a task; past 16, fees grow and answers do not get better
MAX_K = 16
DEFAULT_ROUNDS = 1  # collaborative prompting rounds after the first answers
MAX_ROUNDS = 5
DEFAULT_MAX_TOKENS = 96  # completion tokens of one answer
MAX_TOKENS = 4096
DEFAULT_FEE_PER_RESPONDENT_WEI = 10**13  # what a coordinator charges per respondent a task pays for

#: respondents per task, within the limits every layer enforces
RespondentsPerTask = Annotated[int, Field(ge=1, le=MAX_K)]
#: debate rounds, within the limits every layer enforces
DebateRounds = Annotated[int, Field(ge=0, le=MAX_ROUNDS)]
#: completion tokens of one answer, within the limits every layer enforces
AnswerTokens = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
