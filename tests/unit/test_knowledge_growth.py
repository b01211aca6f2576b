"""Knowledge that grows while it serves: an expert answers from a document added to its folder after
the next check, keeps its old knowledge when the folder becomes unreadable, and names each corpus it
answered from in its model_version."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnet.backends.base import GenerationRequest
from llmnet.backends.fake import FakeBackend
from llmnet.experts.corpus import corpus_hash_of
from llmnet.experts.expert import ExpertBackend
from llmnet.experts.growing import KnowledgeWatch
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.roles.knowledge_growth import EARLIER_CORPORA, keep_earlier, versioned

CALDERA = "# The Ostrava caldera\n\nThe Ostrava caldera is 14 km wide; its magma chamber lies 6 km deep.\n"
VENTS = "# Mount Keld\n\nMount Keld's vents emit 35 tonnes of sulphur a day between eruptions.\n"
QUESTION = "How much sulphur do Mount Keld's vents emit?"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "volcanology").mkdir()
    (tmp_path / "volcanology" / "calderas.md").write_text(CALDERA, encoding="utf-8")
    return tmp_path / "volcanology"


def answer(expert: ExpertBackend) -> str:
    return expert.answer(GenerationRequest.from_prompt(QUESTION)).completion.text  # the fake echoes its prompt


def test_a_document_added_while_serving_is_answered_from_after_the_next_check(folder: Path) -> None:
    expert = ExpertBackend(FakeBackend(), KnowledgeBase.from_folder(folder))
    clock = Clock()
    watch = KnowledgeWatch(expert, folder, every_s=2.0, clock=clock)
    assert "35 tonnes" not in answer(expert)
    (folder / "vents.md").write_text(VENTS, encoding="utf-8")
    clock.now = 1.0
    assert watch.check() is None  # not yet due: a check at most every 2 s
    assert "35 tonnes" not in answer(expert)
    clock.now = 2.0
    change = watch.check()
    assert change is not None and change.corpus_hash == corpus_hash_of(folder) and change.passages == 2
    assert "35 tonnes of sulphur" in answer(expert)
    clock.now = 4.0
    assert watch.check() is None  # nothing changed since


def test_a_rewritten_document_is_noticed_and_an_emptied_folder_keeps_the_old_knowledge(folder: Path) -> None:
    expert = ExpertBackend(FakeBackend(), KnowledgeBase.from_folder(folder))
    watch = KnowledgeWatch(expert, folder, every_s=0.0)
    doc = folder / "calderas.md"
    doc.write_text(CALDERA + "\n" + VENTS, encoding="utf-8")
    assert watch.check() is not None and "35 tonnes" in answer(expert)
    doc.unlink()
    assert watch.check() is None  # no documents: nothing to answer from, so the old knowledge stays
    assert "35 tonnes" in answer(expert)


def test_the_model_version_names_the_corpus_within_the_registrys_64_bytes() -> None:
    assert versioned("v1", "0xab12cd34" + "0" * 56) == "v1+kb.ab12cd34"
    assert versioned("v1+kb.ab12cd34", "0x" + "ff" * 32) == "v1+kb.ffffffff"
    long = versioned("é" * 40, "0x" + "11" * 32)
    assert len(long.encode()) <= 64 and long.endswith("+kb.11111111")


def test_earlier_corpora_are_kept_a_few_at_a_time() -> None:
    earlier: dict[str, bytes] = {}
    for i in range(EARLIER_CORPORA + 2):
        keep_earlier(earlier, (f"0x{i}", b"packed"))
    assert list(earlier) == [f"0x{i}" for i in range(2, EARLIER_CORPORA + 2)]
