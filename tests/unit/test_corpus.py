"""A domain's corpus is named by its content; a packed corpus that does not match is refused whole."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from llmnet.errors import CorpusError
from llmnet.experts.corpus import (
    MANIFEST_FILE,
    CorpusLimits,
    check_path,
    corpus_hash_of,
    pack,
    unpack,
)
from llmnet.experts.knowledge import KnowledgeBase


def write(folder: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(tmp_path / "volcanology", {
        "calderas.md": "# Calderas\n\nThe Ostrava caldera is 14 km wide.\n",
        "deep/vents.txt": "Vents of Mount Keld emit 35 tonnes of sulphur a day.",
        "熔岩.md": "# 熔岩\n\n克尔德山的熔岩温度为 1150 摄氏度。\n",
        "notes.json": "{}",  # not a document: left out
    })  # fmt: skip


def packed_json(folder: Path) -> dict[str, Any]:
    return json.loads(pack(folder).model_dump_json())


def test_the_hash_depends_on_the_documents_only(folder: Path, tmp_path: Path) -> None:
    copy = write(tmp_path / "elsewhere", pack(folder).files)
    assert corpus_hash_of(copy) == corpus_hash_of(folder)
    assert [f.path for f in pack(folder).manifest.files] == ["calderas.md", "deep/vents.txt", "熔岩.md"]
    (copy / "calderas.md").write_text("# Calderas\n\nThe Ostrava caldera is 15 km wide.\n")
    assert corpus_hash_of(copy) != corpus_hash_of(folder)


def test_unpack_gives_back_the_same_documents(folder: Path, tmp_path: Path) -> None:
    packed = pack(folder)
    target = unpack(packed.model_dump_json().encode(), tmp_path / "out", expected=packed.manifest.corpus_hash())
    assert corpus_hash_of(target) == packed.manifest.corpus_hash()
    assert (target / "熔岩.md").read_text(encoding="utf-8") == (folder / "熔岩.md").read_text(encoding="utf-8")
    assert (target / MANIFEST_FILE).exists()
    assert len(KnowledgeBase.from_folder(target)) == len(KnowledgeBase.from_folder(folder))


def refused(raw: dict[str, Any] | bytes, tmp_path: Path, match: str, expected: str | None = None) -> None:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    with pytest.raises(CorpusError, match=match):
        unpack(data, tmp_path / "out", expected=expected)
    assert list(tmp_path.iterdir()) == [tmp_path / "volcanology"]  # nothing written, not even a temporary folder


def test_a_changed_file_is_refused(folder: Path, tmp_path: Path) -> None:
    raw = packed_json(folder)
    raw["files"]["calderas.md"] = raw["files"]["calderas.md"].replace("14", "15")
    refused(raw, tmp_path, "'calderas.md' does not match")


def test_a_changed_manifest_is_refused_against_the_cards_hash(folder: Path, tmp_path: Path) -> None:
    expected = corpus_hash_of(folder)
    raw = packed_json(folder)
    raw["files"]["calderas.md"] = "The Ostrava caldera is 15 km wide."
    entry = next(f for f in raw["manifest"]["files"] if f["path"] == "calderas.md")
    data = raw["files"]["calderas.md"].encode()
    entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    refused(raw, tmp_path, "as its domain card says", expected=expected)


def test_an_extra_file_is_refused(folder: Path, tmp_path: Path) -> None:
    raw = packed_json(folder)
    raw["files"]["extra.md"] = "Not in the manifest."
    refused(raw, tmp_path, "do not match its manifest.*extra.md")


@pytest.mark.parametrize("path", ["../x.md", "/etc/x.md", "a/../../x.md", "a\\x.md", "C:x.md", "x.py", "a//x.md"])
def test_a_path_outside_the_folder_or_not_a_document_is_refused(folder: Path, tmp_path: Path, path: str) -> None:
    raw = packed_json(folder)
    raw["manifest"]["files"].append({"path": path, "sha256": "00" * 32, "size": 1})
    raw["files"][path] = "x"
    refused(raw, tmp_path, "is refused")


def test_limits_are_enforced_on_unpack_and_pack(folder: Path, tmp_path: Path) -> None:
    data = pack(folder).model_dump_json().encode()
    with pytest.raises(CorpusError, match="the limit is 2"):
        unpack(data, tmp_path / "out", limits=CorpusLimits(max_files=2))
    with pytest.raises(CorpusError, match="bytes of documents; the limit is 50"):
        unpack(data, tmp_path / "out", limits=CorpusLimits(max_bytes=50))
    with pytest.raises(CorpusError, match="the packed corpus is"):
        unpack(data, tmp_path / "out", limits=CorpusLimits(max_bytes=10, max_files=1))
    with pytest.raises(CorpusError, match="the limit is 50"):
        pack(folder, CorpusLimits(max_bytes=50))
    assert list(tmp_path.iterdir()) == [tmp_path / "volcanology"]


def test_garbage_and_unknown_fields_are_refused(folder: Path, tmp_path: Path) -> None:
    refused(b"not json", tmp_path, "not a packed corpus")
    raw = packed_json(folder)
    raw["manifest"]["licence"] = "MIT"
    refused(raw, tmp_path, "not a packed corpus")
    raw = packed_json(folder)
    raw["manifest"]["files"].reverse()
    refused(raw, tmp_path, "not sorted and unique")


def test_an_empty_folder_or_a_binary_document_cannot_be_packed(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="at least one"):
        pack(write(tmp_path / "empty", {"x.json": "{}"}))
    (tmp_path / "empty" / "bad.md").write_bytes(b"\xff\xfe")
    with pytest.raises(CorpusError, match="not UTF-8"):
        pack(tmp_path / "empty")


def test_an_existing_target_is_not_overwritten(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(CorpusError, match="already exists"):
        unpack(pack(folder).model_dump_json().encode(), tmp_path / "out")


def test_check_path_accepts_nested_unicode_documents() -> None:
    assert check_path("法律/合同.md") == "法律/合同.md"
