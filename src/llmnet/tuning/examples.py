"""The data an expert is trained on: read, licence-checked, rendered as the served model sees it, hashed.

    licence = knowledge_licence(Path("knowledge/law"), given=None)   # first line of its LICENCE file
    rows = read_preferences(Path("prefs.jsonl"))                     # `llmnet dataset export --format dpo-jsonl`
    prompter = Prompter("chat", tokenizer)
    prompter.sft(example)   # {"prompt": "<|im_start|>system…assistant\\n", "completion": "… <|im_end|>"}

A chat model is trained on its own chat template (the one in its GGUF file, which llama.cpp also
applies, default system prompt included); a completion-mode model on llama.cpp's few-shot ``Q:``/``A:``
prompt, its answer one line ending in a newline, where the serving backend stops.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from llmnet.backends.base import ChatMessage
from llmnet.errors import InputError
from llmnet.tuning.licences import LicenceError
from llmnet.tuning.manifest import RankingsSource

if TYPE_CHECKING:
    from llmnet.backends.llamacpp import Mode
    from llmnet.tuning.pairs import SftExample

LICENCE_FILES = ("LICENCE", "LICENSE", "LICENCE.txt", "LICENSE.txt", "LICENCE.md", "LICENSE.md")
Row = dict[str, str]


def knowledge_licence(folder: Path, given: str | None) -> str:
    """``given``, else the first non-empty line of the folder's LICENCE (or LICENSE) file."""
    if given:
        return given.strip()
    for name in LICENCE_FILES:
        if (folder / name).is_file():
            lines = [line.strip() for line in (folder / name).read_text(encoding="utf-8").splitlines()]
            if any(lines):
                return next(line for line in lines if line)
    raise LicenceError(f"the licence of knowledge folder {folder} is unknown; put its SPDX id (CC-BY-4.0) on the "
                       "first line of a LICENCE file there, or give it with --data-licence")  # fmt: skip


class PreferenceRow(BaseModel):
    """One line of a DPO export: the fields training reads (the others are provenance kept in the file)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    prompt: str
    chosen: str
    rejected: str
    chosen_licence: str
    rejected_licence: str
    chain_id: int
    contract: str
    block_number: int


def read_preferences(path: Path) -> list[PreferenceRow]:
    """The rows of a ``dpo-jsonl`` export, each checked; an error names the line and what is wrong."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(PreferenceRow.model_validate_json(line))
        except ValidationError as e:
            where = ".".join(str(p) for p in e.errors()[0]["loc"])
            raise InputError(f"{path} line {number}: {where}: {e.errors()[0]['msg']}; export the rankings again "
                             "with llmnet dataset export --format dpo-jsonl") from None  # fmt: skip
    if not rows:
        raise InputError(f"{path} has no preference pairs; rank some answers first (llmnet rank)")
    return rows


def preference_licences(rows: Iterable[PreferenceRow], path: Path) -> list[tuple[str, str]]:
    """(licence, what) of every model whose text is in the pairs, each once, for the licence check."""
    found = dict.fromkeys(licence for row in rows for licence in (row.chosen_licence, row.rejected_licence))
    return [(licence, f"a response in {path.name} (model licence)") for licence in found]


def rankings_source(rows: Sequence[PreferenceRow]) -> RankingsSource:
    """Where the pairs came from: one chain and contract, and the blocks their rankings were made in."""
    origins = {(row.chain_id, row.contract.lower()) for row in rows}
    if len(origins) != 1:
        raise InputError(f"the preference pairs come from {len(origins)} rankings contracts ({sorted(origins)}); "
                         "train on the export of one network at a time")  # fmt: skip
    blocks = [row.block_number for row in rows]
    licences = sorted({lic for row in rows for lic in (row.chosen_licence, row.rejected_licence)})
    return RankingsSource(chain_id=rows[0].chain_id, contract=rows[0].contract, from_block=min(blocks),
                          to_block=max(blocks), pairs=len(rows), licences=licences)  # fmt: skip


@dataclass(frozen=True)
class Prompter:
    """Renders messages exactly as the serving backend prompts the model (``tokenizer``: the base's)."""

    mode: Mode
    tokenizer: Any

    def prompt(self, messages: Sequence[ChatMessage]) -> str:
        if self.mode == "completion":
            from llmnet.backends.llamacpp import DEFAULT_FEW_SHOT, few_shot_prompt

            return few_shot_prompt(tuple(messages), DEFAULT_FEW_SHOT)
        chat = [{"role": m.role, "content": m.content} for m in messages]
        return str(self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))

    def answer(self, text: str) -> str:
        """The text the model should write, with what ends it as served: its eos, or the line's end."""
        if self.mode == "completion":
            return " " + text.strip().replace("\n", " ") + "\n"
        return text.strip() + str(self.tokenizer.eos_token)

    def sft(self, example: SftExample) -> Row:
        return {"prompt": self.prompt(example.messages), "completion": self.answer(example.answer)}

    def dpo(self, row: PreferenceRow) -> Row:
        prompt = self.prompt((ChatMessage("user", row.prompt),))
        return {"prompt": prompt, "chosen": self.answer(row.chosen), "rejected": self.answer(row.rejected)}


def dataset_sha256(stages: dict[str, list[Row]]) -> str:
    """sha256 (hex) of the rendered examples of every stage, in training order, as JSON lines."""
    digest = hashlib.sha256()
    for stage, rows in stages.items():
        for row in rows:
            digest.update(json.dumps({"stage": stage, **row}, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()
