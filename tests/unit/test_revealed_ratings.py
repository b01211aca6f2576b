"""The settler's cache of revealed rating lists stays bounded and reads an evicted list again."""

from __future__ import annotations

import httpx
import pytest

from llmnet.chain.commit_reveal import ratings_root
from llmnet.errors import InputError
from llmnet.roles.epochs import RevealedRatings

DIGESTS = ["0x" + f"{i:02x}" * 32 for i in range(3)]


class _Roots:
    """The one ledger read RevealedRatings makes: every epoch revealed with the root of DIGESTS."""

    def revealed_root(self, validator: str, epoch: int) -> str:
        return ratings_root(DIGESTS)


def test_lists_are_bounded_and_an_evicted_one_is_read_again() -> None:
    asked: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json={"digests": DIGESTS})

    http = httpx.Client(transport=httpx.MockTransport(serve), base_url="http://v.test")
    reveals = RevealedRatings(_Roots(), lambda v: "http://v.test", http, max_lists=3)  # type: ignore[arg-type]
    for epoch in range(5):
        assert reveals.digests("0xV", epoch) == frozenset(DIGESTS)
    assert len(asked) == 5 and len(reveals._lists) == 3
    reveals.digests("0xV", 4)  # held: no request
    reveals.digests("0xV", 2)  # held, and now the most recent
    reveals.digests("0xV", 5)  # evicts epoch 3, the least recently used
    assert asked[5:] == ["/v1/epochs/5"]
    reveals.digests("0xV", 3)
    assert asked[6:] == ["/v1/epochs/3"] and len(reveals._lists) == 3
    reveals.digests("0xV", 2)
    assert len(asked) == 7


def test_a_cache_that_holds_nothing_is_refused() -> None:
    with pytest.raises(InputError, match="max_lists must be at least 1"):
        RevealedRatings(_Roots(), lambda v: "http://v.test", max_lists=0)  # type: ignore[arg-type]
