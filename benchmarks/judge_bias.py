"""Position bias of a real LLM judge, with and without llmnet's control, in one run.

    .venv/bin/python benchmarks/judge_bias.py [--model smollm2] [--limit 30] [--json OUT.json]

Pairs come from knowledge/questions.jsonl: for each question, its reference answer (right)
against the reference answer of another question in another domain (fluent, but wrong). The
local model judges every pair in both orders with the same prompt (temperature 0).

- Without the control a verdict is the judge's answer for one order. *Position bias* is the
  share of pairs whose verdict changes when the answers swap places; the share of all
  judgments that pick whichever answer came first is printed too.
- With the control (``judge.pairwise_prefer``, what validators use) a verdict needs both orders
  to agree; a contradiction is a tie, so the verdict never depends on the order, at the price
  of the ties it prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from llmnet.backends import create_backend
from llmnet.data import QUESTIONS_FILE
from llmnet.questions import load_questions
from llmnet.roles.pairwise import _ask_choice, _pick, pairwise_prefer, parse_choice


def pairs(limit: int) -> list[tuple[str, str, str]]:
    known = load_questions(QUESTIONS_FILE)
    out = []
    for i, q in enumerate(known[:limit]):
        other = next(o for o in known[i + 1 :] + known[:i] if o.domain != q.domain)
        out.append((q.question, q.reference, other.reference))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    backend = create_backend("llamacpp", model=args.model, n_threads=2)
    t0 = time.perf_counter()
    n = flips = first_picks = judged = right_single = right_controlled = ties_controlled = 0
    for question, right, wrong in pairs(args.limit):
        in_order = _pick(parse_choice(_ask_choice(backend, question, right, wrong, 8)), "a", "b")  # right is A
        swapped = _pick(parse_choice(_ask_choice(backend, question, wrong, right, 8)), "b", "a")  # right is B
        n += 1
        flips += in_order != swapped
        for verdict, right_is_first in ((in_order, True), (swapped, False)):
            if verdict != "tie":
                judged += 1
                first_picks += (verdict == "a") == right_is_first
            right_single += verdict == "a"
        controlled = pairwise_prefer(backend, question, right, wrong)
        right_controlled += controlled.winner == "a"
        ties_controlled += controlled.winner == "tie"
    seconds = time.perf_counter() - t0
    figures: dict[str, Any] = {
        "model": args.model, "pairs": n,
        "position_bias_without_control": flips / n,
        "first_position_pick_rate": first_picks / judged if judged else None,
        "accuracy_without_control": right_single / (2 * n),
        "position_bias_with_control": 0.0,
        "accuracy_with_control": right_controlled / n, "ties_with_control": ties_controlled / n,
        "seconds": seconds,
    }  # fmt: skip
    table = Table(title=f"position bias of {args.model} as a pairwise judge, {n} pairs (right vs wrong answer)")
    for col in ("", "verdict changes when the answers swap", "right answer wins", "ties"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("one order (no control)", f"{flips / n:.0%}", f"{right_single / (2 * n):.0%}", "-")
    table.add_row("both orders must agree (llmnet)", "0% (by construction)", f"{right_controlled / n:.0%}",
                  f"{ties_controlled / n:.0%}")  # fmt: skip
    console = Console(width=max(110, Console().width))
    console.print(table)
    if judged:
        console.print(f"without the control the judge picked the answer shown first in {first_picks / judged:.0%} "
                      f"of {judged} decided judgments (no bias: 50%); {seconds:.0f} s in all")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
