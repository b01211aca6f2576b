"""How often the grounded judge agrees with the truth on the labelled quality set, offline.

    .venv/bin/python benchmarks/judge_agreement.py benchmarks/quality [--json OUT.json]

Reads ``questions.jsonl`` (question, domain, reference), ``near_misses.jsonl`` (answers made
to look right or wrong: paraphrases, number words, other units, a wrong number with the right
unit, hedges …, each labelled) and ``knowledge/<domain>/`` from the folder given. Every
near-miss answer, and every question's reference answer, is rated on its own (one answer per
request, so no agreement between answers helps; ``--together`` rates all answers to a question in
one request instead), with the question's domain and the domain's documents; never with the
reference. A score of 5.5 or more counts as "rated good".

Prints agreement with the labels overall and per kind, and the confusion table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from quality.dataset import domains, knowledge_dir, load_items, load_near_misses
from quality.report import GOOD_SCORE

from llmnet.experts.knowledge import KnowledgeBase
from llmnet.roles.grounded import GroundedJudge

GOOD = GOOD_SCORE


def load(folder: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The set's questions by id, and the cases to rate: every reference answer, then every near miss."""
    questions = {item.id: {"id": item.id, "question": item.question, "domain": item.domain,
                           "reference": item.reference} for item in load_items(folder)}  # fmt: skip
    cases = [
        {"question_id": q["id"], "answer": q["reference"], "correct": True, "kind": "reference"}
        for q in questions.values()
    ]
    cases += [asdict(miss) for miss in load_near_misses(folder)]
    return questions, cases


def corpora(folder: Path) -> dict[str, KnowledgeBase]:
    return {d: KnowledgeBase.from_folder(knowledge_dir(d, folder)) for d in sorted(domains(folder))}


def rate_all(folder: Path, together: bool = False) -> list[dict[str, Any]]:
    """Every case rated alone, or with ``together`` all answers to one question in one request
    (as a validator sees the answers of several respondents)."""
    questions, cases = load(folder)
    judge = GroundedJudge(corpora(folder))
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, case in enumerate(cases):
        groups[case["question_id"] if together else str(i)].append(case)
    rows = []
    for group in groups.values():
        q = questions[group[0]["question_id"]]
        verdicts = judge.verdicts(q["question"], {str(i): c["answer"] for i, c in enumerate(group)}, q["domain"])
        for i, case in enumerate(group):
            verdict = verdicts[str(i)]
            rows.append(case | {"question": q["question"], "domain": q["domain"], "score": verdict.score,
                                "verdict": verdict.verdict, "why": json.loads(verdict.to_json())})  # fmt: skip
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    table: Counter[tuple[bool, bool]] = Counter()
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        good = row["score"] >= GOOD
        table[(row["correct"], good)] += 1
        by_kind[row["kind"]].append(good == row["correct"])
    agree = table[(True, True)] + table[(False, False)]
    print(f"agreement with the truth: {agree}/{len(rows)} = {agree / len(rows):.1%}  (good = score >= {GOOD})")
    print(f"{'':>14}{'rated good':>12}{'rated bad':>11}")
    for truth in (True, False):
        label = "right answers" if truth else "wrong answers"
        print(f"{label:>14}{table[(truth, True)]:>12}{table[(truth, False)]:>11}")
    print("\nper kind:")
    for kind, hits in sorted(by_kind.items()):
        print(f"  {kind:<26}{sum(hits):>4}/{len(hits):<4}{sum(hits) / len(hits):6.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the quality set's folder (questions.jsonl, near_misses.jsonl)")
    parser.add_argument("--json", type=Path, help="save every rating with its explanation here")
    parser.add_argument("--misses", action="store_true", help="also print every disagreement")
    parser.add_argument("--together", action="store_true", help="rate all answers to a question in one request")
    args = parser.parse_args(argv)
    rows = rate_all(args.folder, args.together)
    report(rows)
    if args.misses:
        for row in rows:
            if (row["score"] >= GOOD) != row["correct"]:
                why = row["why"]
                print(f"\n[{row['kind']}] {row['question']}\n  answer: {row['answer']}\n  score {row['score']} "
                      f"{row['verdict']}: matched {why['matched']} contradicted {why['contradicted']} "
                      f"{why['note']}\n  evidence: {why['evidence'][:1]}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
