"""Weights fetched by hash for spot checks: checked against the hash, bounded in size, cached once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from llmnet.errors import WeightsUnavailable
from llmnet.roles.weights_cache import WeightsCache, WeightsLimits

ENDPOINT = "http://127.0.0.1:8401"
GOOD = b"GGUF" + bytes(range(256)) * 40
DIGEST = hashlib.sha256(GOOD).hexdigest()


def serving(files: dict[str, bytes], seen: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        body = files.get(request.url.path.removeprefix("/v1/weights/"))
        return httpx.Response(200, content=body) if body is not None else httpx.Response(404)

    return httpx.MockTransport(handler)


def test_weights_are_fetched_by_hash_checked_and_fetched_once(tmp_path: Path) -> None:
    seen: list[str] = []
    cache = WeightsCache(tmp_path, transport=serving({DIGEST: GOOD}, seen))
    path = cache.fetch("0x" + DIGEST.upper(), ENDPOINT)
    assert path.read_bytes() == GOOD
    assert cache.fetch(DIGEST, ENDPOINT) == path
    assert seen == [f"/v1/weights/{DIGEST}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{DIGEST}.gguf"]  # no partial file left


def test_a_file_that_is_not_what_the_hash_names_is_refused_and_not_kept(tmp_path: Path) -> None:
    other = b"GGUF" + b"other weights"
    cache = WeightsCache(tmp_path, transport=serving({DIGEST: other}, []))
    with pytest.raises(WeightsUnavailable, match=f"sha256 is {hashlib.sha256(other).hexdigest()}, not {DIGEST}"):
        cache.fetch(DIGEST, ENDPOINT)
    assert list(tmp_path.iterdir()) == []


def test_weights_the_respondent_does_not_serve_are_unavailable(tmp_path: Path) -> None:
    cache = WeightsCache(tmp_path, transport=serving({}, []))
    with pytest.raises(WeightsUnavailable, match="HTTP 404"):
        cache.fetch(DIGEST, ENDPOINT)


def test_a_download_past_the_size_limit_is_abandoned(tmp_path: Path) -> None:
    cache = WeightsCache(tmp_path, transport=serving({DIGEST: GOOD}, []), limits=WeightsLimits(max_bytes=1000))
    with pytest.raises(WeightsUnavailable, match="more than 1000 bytes"):
        cache.fetch(DIGEST, ENDPOINT)
    assert list(tmp_path.iterdir()) == []


def test_only_gguf_files_are_fetched(tmp_path: Path) -> None:
    pickle = b"\x80\x04not a gguf file"
    digest = hashlib.sha256(pickle).hexdigest()
    cache = WeightsCache(tmp_path, transport=serving({digest: pickle}, []))
    with pytest.raises(WeightsUnavailable, match="no GGUF file"):
        cache.fetch(digest, ENDPOINT)


@pytest.mark.parametrize("bad", ["", "0x1234", "../../etc/passwd", "g" * 64])
def test_a_malformed_hash_is_refused_before_any_request(tmp_path: Path, bad: str) -> None:
    seen: list[str] = []
    cache = WeightsCache(tmp_path, transport=serving({}, seen))
    with pytest.raises(WeightsUnavailable, match="not a sha256"):
        cache.fetch(bad, ENDPOINT)
    assert seen == []
