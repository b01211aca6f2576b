"""A domain's reference corpus, named by its content: the hash a domain card holds on chain.

    packed = pack(Path("knowledge/law"))      # every .md/.txt file under the folder
    packed.manifest.corpus_hash()             # "0x…": sha256 of the canonical manifest
    unpack(packed.model_dump_json().encode(), Path("/tmp/law"), expected=card.corpus_hash)

The manifest lists each document's relative POSIX path (sorted), sha256 and size in bytes; its
canonical form is compact JSON with sorted keys, so the same documents always give the same hash.
A packed corpus is one JSON document, ``{"manifest": …, "files": {path: text}}``. Unpacking checks
everything (the format, the limits, every path, every file's size and hash, the corpus hash)
before it writes anything, and writes through a temporary folder renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, ValidationError

from llmnet.errors import CorpusError
from llmnet.experts.knowledge import DOCUMENT_SUFFIXES

CORPUS_FORMAT = "llmnet-corpus/1"
MANIFEST_FILE = "corpus-manifest.json"  # written beside the documents of an unpacked corpus


@dataclass(frozen=True)
class CorpusLimits:
    """How big a corpus may be: checked when packing (so nobody serves what others refuse) and unpacking."""

    max_files: int = 2000
    max_bytes: int = 16 * 2**20  # the documents' total size in UTF-8
    max_path_chars: int = 200

    @property
    def max_packed_bytes(self) -> int:
        """A packed corpus's size at most: JSON escapes at most double the text; the manifest adds per file."""
        return 2 * self.max_bytes + 400 * self.max_files


DEFAULT_LIMITS = CorpusLimits()


class CorpusFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    sha256: str
    size: int


class CorpusManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = CORPUS_FORMAT
    files: tuple[CorpusFile, ...]

    def canonical(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    def corpus_hash(self) -> str:
        return "0x" + hashlib.sha256(self.canonical()).hexdigest()


class PackedCorpus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    manifest: CorpusManifest
    files: dict[str, str]


def check_path(path: str, limits: CorpusLimits = DEFAULT_LIMITS) -> str:
    """A document's path inside a corpus: relative, POSIX, no ``..``, a .md or .txt file."""
    parts = path.split("/")
    if (
        not path
        or len(path) > limits.max_path_chars
        or any(c in path for c in "\\:\0")
        or any(not c.isprintable() for c in path)
        or PurePosixPath(path).is_absolute()
        or any(part in ("", ".", "..") for part in parts)
        or PurePosixPath(path).suffix.lower() not in DOCUMENT_SUFFIXES
    ):
        raise CorpusError(
            f"corpus path {path!r} is refused: a corpus holds only relative POSIX paths of at most "
            f"{limits.max_path_chars} characters, without '..', ending in {' or '.join(DOCUMENT_SUFFIXES)}"
        )
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(folder: Path, limits: CorpusLimits = DEFAULT_LIMITS) -> PackedCorpus:
    """Every .md/.txt document under ``folder`` (as the knowledge base reads them), packed."""
    if not folder.is_dir():
        raise CorpusError(f"corpus folder {folder} does not exist; give a folder of .md or .txt documents")
    paths = sorted(
        f.relative_to(folder).as_posix()
        for f in folder.rglob("*")
        if f.is_file() and f.suffix.lower() in DOCUMENT_SUFFIXES
    )
    texts = {path: _read_text(folder / check_path(path, limits)) for path in paths}
    entries = [CorpusFile(path=p, sha256=_sha256(t.encode()), size=len(t.encode())) for p, t in texts.items()]
    packed = PackedCorpus(manifest=CorpusManifest(files=tuple(entries)), files=texts)
    _check_limits(packed.manifest, limits)
    return packed


def _read_text(file: Path) -> str:
    try:
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CorpusError(f"corpus document {file} is not UTF-8 text; convert it or leave it out") from None


def _check_limits(manifest: CorpusManifest, limits: CorpusLimits) -> None:
    if not manifest.files:
        raise CorpusError("a corpus needs at least one .md or .txt document")
    if len(manifest.files) > limits.max_files:
        raise CorpusError(f"the corpus has {len(manifest.files)} documents; the limit is {limits.max_files}")
    total = sum(f.size for f in manifest.files)
    if total > limits.max_bytes:
        raise CorpusError(f"the corpus holds {total} bytes of documents; the limit is {limits.max_bytes}")


def parse_packed(raw: bytes, limits: CorpusLimits = DEFAULT_LIMITS) -> PackedCorpus:
    if len(raw) > limits.max_packed_bytes:
        raise CorpusError(f"the packed corpus is {len(raw)} bytes; the limit is {limits.max_packed_bytes}")
    try:
        return PackedCorpus.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]["msg"]
        raise CorpusError(f"not a packed corpus ({exc.error_count()} problems, first: {first})") from None


def verify(packed: PackedCorpus, expected: str | None = None, limits: CorpusLimits = DEFAULT_LIMITS) -> str:
    """The corpus hash of ``packed`` once every check passes; ``expected``: the hash it must have."""
    manifest = packed.manifest
    if manifest.format != CORPUS_FORMAT:
        raise CorpusError(f"corpus format {manifest.format!r} is not {CORPUS_FORMAT!r}; upgrade llmnet")
    _check_limits(manifest, limits)
    paths = [check_path(f.path, limits) for f in manifest.files]
    if paths != sorted(set(paths)):
        raise CorpusError("the corpus manifest's paths are not sorted and unique; pack the corpus with llmnet")
    if set(packed.files) != set(paths):
        odd = sorted(set(packed.files) ^ set(paths))
        raise CorpusError(f"the corpus's files do not match its manifest: {odd[:5]} are in one and not the other")
    for entry in manifest.files:
        data = packed.files[entry.path].encode()
        if len(data) != entry.size or _sha256(data) != entry.sha256:
            raise CorpusError(f"corpus document {entry.path!r} does not match its size or sha256 in the manifest")
    found = manifest.corpus_hash()
    if expected is not None and found != expected.lower():
        raise CorpusError(f"the corpus hashes to {found}, not to {expected} as its domain card says")
    return found


def unpack(raw: bytes, target: Path, expected: str | None = None, limits: CorpusLimits = DEFAULT_LIMITS) -> Path:
    """Check a packed corpus, then write it to ``target`` (which must not exist) in one rename."""
    packed = parse_packed(raw, limits)
    verify(packed, expected, limits)
    if target.exists():
        raise CorpusError(f"{target} already exists; unpack into a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target.parent))
    try:
        for path, text in packed.files.items():
            (staging / path).parent.mkdir(parents=True, exist_ok=True)
            (staging / path).write_bytes(text.encode())
        (staging / MANIFEST_FILE).write_bytes(packed.manifest.canonical())
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def corpus_hash_of(folder: Path, limits: CorpusLimits = DEFAULT_LIMITS) -> str:
    """The hash a domain card names ``folder``'s documents by."""
    return pack(folder, limits).manifest.corpus_hash()
