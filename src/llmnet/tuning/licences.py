"""Which licences allow a model to be trained on a base model or on data (pure; no I/O).

    check_trainable("Apache-2.0", "base model smollm2")          # fine
    check_trainable("CC-BY-NC-ND-4.0", "knowledge folder law")   # LicenceError: forbids derivatives

A licence is an SPDX identifier or a model family's own terms, compared case-insensitively. Known
permissive licences and model terms that allow fine-tuned derivatives pass; no-derivatives licences,
proprietary terms and unknown names are refused, each with what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmnet.errors import ConfigError
from llmnet.rlhf.records import PERMISSIVE

# model families' own terms that allow fine-tuned derivatives (with their conditions carried along)
MODEL_TERMS = frozenset(s.lower() for s in ("Gemma", "Llama-3", "Llama-3.1", "Llama-3.2", "OpenRAIL-M",
                                             "CreativeML-OpenRAIL-M", "BigScience-OpenRAIL-M"))  # fmt: skip
SHARE_ALIKE = frozenset(s.lower() for s in ("CC-BY-SA-4.0", "GPL-3.0", "GPL-3.0-only", "GPL-3.0-or-later",
                                             "LGPL-3.0", "AGPL-3.0", "MPL-2.0"))  # fmt: skip
FORBIDDING_MARKS = ("-nd", "noderiv", "no-deriv", "proprietary", "all-rights-reserved", "no-training", "none")


class LicenceError(ConfigError):
    """A base model or dataset whose licence does not allow training on it."""


def allows_training(licence: str) -> bool:
    key = licence.strip().lower()
    if not key or any(mark in key for mark in FORBIDDING_MARKS):
        return False
    return key in PERMISSIVE or key in MODEL_TERMS or key in SHARE_ALIKE or key.startswith("cc-by-nc")


def check_trainable(licence: str, what: str) -> None:
    """Raise :class:`LicenceError` naming ``what`` when ``licence`` does not allow training on it."""
    if allows_training(licence):
        return
    if not licence.strip():
        raise LicenceError(f"{what} has no licence; state it (an SPDX id such as CC-BY-4.0) before training on it")
    key = licence.strip().lower()
    if any(mark in key for mark in FORBIDDING_MARKS):
        raise LicenceError(f"{what} is under {licence!r}, which forbids derivative models; "
                           "train on data or a base model whose licence allows it")  # fmt: skip
    known = ", ".join(sorted(PERMISSIVE))
    raise LicenceError(f"{what} is under {licence!r}, which llmnet does not know to allow training; use data "
                       f"under a known licence ({known}, or a model's own terms such as Gemma)")  # fmt: skip


def check_all_trainable(licences: Iterable[tuple[str, str]]) -> None:
    """``check_trainable`` for each (licence, what) pair; the first refusal wins."""
    for licence, what in licences:
        check_trainable(licence, what)


def derived_licence(base: str, data: Iterable[str]) -> str:
    """The licence an expert carries: a share-alike or non-commercial input's, else the base model's."""
    for licence in data:
        key = licence.strip().lower()
        if key in SHARE_ALIKE or key.startswith("cc-by-nc"):
            return licence
    return base
