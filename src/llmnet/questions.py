"""Questions with known answers (``llmnet.data.QUESTIONS_FILE``): one JSON object per line with
``question``, ``reference`` and ``domain``. The demo asks them, the coordinator hands their
references to validators and mixes them in as gold tasks, reference judges and scripted
providers answer from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Question:
    question: str
    reference: str
    domain: str = "general"


def load_questions(path: Path | None) -> list[Question]:
    """The file's questions in order; none when there is no file."""
    if path is None or not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Question(r["question"], r["reference"], r.get("domain", "general")) for r in rows]


def reference_book(questions: Iterable[Question]) -> dict[str, str]:
    """Question (stripped, lower-cased) -> reference answer."""
    return {q.question.strip().lower(): q.reference for q in questions}
