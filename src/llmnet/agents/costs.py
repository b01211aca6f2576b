"""Tokens and fees per call and in total, read from the network's receipts, and a budget that
stops a team before the call that would pass it.

    Budget.parse("5000tokens,0.001ether")   # Budget(tokens=5000, wei=10**15)

The next call's cost is estimated from above before it is made: its fee is the per-respondent
fee times the respondents it asks for (the larger of the configured fee and any fee a receipt
showed); its completion is at most ``max_tokens``; its prompt takes at most as many tokens per
byte as the most any call so far needed, with half as much again for safety (one token per byte
before any call has been seen, which no byte-level tokenizer exceeds).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from llmnet.errors import BudgetExceeded, InputError

log = logging.getLogger("llmnet.agents")

_UNITS = {"wei": 1, "gwei": 10**9, "ether": 10**18, "eth": 10**18}
_PART = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*(tokens?|wei|gwei|ether|eth)\s*$", re.IGNORECASE)
TEMPLATE_TOKENS_PER_MESSAGE = 8  # chat-template markers around each message


class Budget(BaseModel):
    tokens: int | None = None
    wei: int | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``"5000tokens"``, ``"0.001ether"``, ``"20000gwei"``, ``"1e15wei"``, or several joined by commas."""
        limits: dict[str, int] = {}
        for part in (p for p in text.split(",") if p.strip()):
            match = _PART.match(part)
            if match is None:
                raise InputError(
                    f"budget {part.strip()!r} is not understood; write an amount and a unit, e.g. "
                    "'5000tokens', '0.001ether', '20000gwei' or '1e15wei', joined by commas"
                )
            amount, unit = float(match.group(1)), match.group(2).lower()
            key = "tokens" if unit.startswith("token") else "wei"
            if key in limits:
                raise InputError(f"budget {text!r} gives a {key} limit twice; give each limit once")
            limits[key] = int(amount * (1 if key == "tokens" else _UNITS[unit]))
        if not limits:
            raise InputError("the budget is empty; give a limit such as '5000tokens' or '0.001ether'")
        if any(v <= 0 for v in limits.values()):
            raise InputError(f"budget {text!r} must be positive")
        return cls(**limits)

    def describe(self) -> str:
        parts = [f"{self.tokens} tokens"] if self.tokens is not None else []
        parts += [f"{self.wei} wei"] if self.wei is not None else []
        return " and ".join(parts) or "no limit"


class CallCost(BaseModel):
    """One call as its receipt told it."""

    action: str
    model: str
    task_id: str | None
    prompt_tokens: int
    completion_tokens: int
    fee_wei: int
    respondents: list[str]
    fee_split_wei: dict[str, int]
    prompt_bytes: int
    k: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CallEstimate:
    tokens: int
    fee_wei: int


def estimate_call(past: list[CallCost], prompt_bytes: int, messages: int, max_tokens: int, k: int,
                  fee_per_respondent_wei: int) -> CallEstimate:  # fmt: skip
    """An upper estimate of the next call's tokens and fee (see the module docstring)."""
    ratios = [c.prompt_tokens / c.prompt_bytes for c in past if c.prompt_bytes]
    per_byte = min(1.0, 1.5 * max(ratios)) if ratios else 1.0
    prompt = math.ceil(per_byte * prompt_bytes) + TEMPLATE_TOKENS_PER_MESSAGE * messages
    rates = [c.fee_wei // max(c.k, 1) for c in past]
    return CallEstimate(prompt + max_tokens, max([fee_per_respondent_wei, *rates]) * k)


class CostManager:
    """Running totals against a budget; ``check`` refuses a call before it is made."""

    def __init__(self, budget: Budget, fee_per_respondent_wei: int, past: list[CallCost] | None = None,
                 persist: Callable[[CallCost], None] = lambda cost: None) -> None:  # fmt: skip
        self.budget = budget
        self.fee_per_respondent_wei = fee_per_respondent_wei
        self.calls: list[CallCost] = list(past or [])
        self.persist = persist

    @property
    def total_tokens(self) -> int:
        return sum(c.tokens for c in self.calls)

    @property
    def total_wei(self) -> int:
        return sum(c.fee_wei for c in self.calls)

    def estimate(self, prompt_bytes: int, messages: int, max_tokens: int, k: int) -> CallEstimate:
        return estimate_call(self.calls, prompt_bytes, messages, max_tokens, k, self.fee_per_respondent_wei)

    def check(self, action: str, estimate: CallEstimate) -> None:
        """Raise :class:`BudgetExceeded` if the call could take the totals past the budget."""
        b = self.budget
        if b.tokens is not None and self.total_tokens + estimate.tokens > b.tokens:
            raise BudgetExceeded(
                f"budget reached before {action}: {self.total_tokens} of {b.tokens} tokens spent and the next "
                f"call may take up to {estimate.tokens}; resume with a larger budget (--budget)"
            )
        if b.wei is not None and self.total_wei + estimate.fee_wei > b.wei:
            raise BudgetExceeded(
                f"budget reached before {action}: {self.total_wei} of {b.wei} wei spent and the next call "
                f"costs up to {estimate.fee_wei} wei; resume with a larger budget (--budget)"
            )

    def record(self, cost: CallCost) -> str:
        """Add a call to the totals; returns (and logs) its line with the running totals."""
        self.persist(cost)
        self.calls.append(cost)
        line = cost_line(len(self.calls), cost, self.total_tokens, self.total_wei, self.budget)
        log.info(line)
        return line


def cost_line(n: int, cost: CallCost, tokens: int, wei: int, budget: Budget) -> str:
    of_tokens = f" of {budget.tokens}" if budget.tokens is not None else ""
    of_wei = f" of {budget.wei}" if budget.wei is not None else ""
    return (
        f"call {n} {cost.action} via {cost.model} task {cost.task_id or '-'}: prompt_tokens {cost.prompt_tokens}, "
        f"completion_tokens {cost.completion_tokens}, fee {cost.fee_wei} wei | total {tokens}{of_tokens} tokens, "
        f"{wei}{of_wei} wei"
    )


def receipt_cost(action: str, model: str, body: dict[str, Any], prompt_bytes: int, k: int) -> CallCost:
    """Read usage and fee from a chat completion body (the llmnet block, when the endpoint sends one)."""
    usage = body.get("usage") or {}
    llmnet = body.get("llmnet") or {}
    receipt = llmnet.get("receipt") or {}
    return CallCost(
        action=action, model=model, task_id=llmnet.get("task_id"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0), completion_tokens=int(usage.get("completion_tokens") or 0),
        fee_wei=int(receipt.get("fee_wei") or 0),
        respondents=[r["address"] for r in receipt.get("respondents", []) if r.get("answered", True)],
        fee_split_wei={str(who): int(v) for who, v in (receipt.get("fee_split_wei") or {}).items()},
        prompt_bytes=prompt_bytes, k=k,
    )  # fmt: skip
