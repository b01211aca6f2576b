"""Address and hash checks: the fast forms agree with the reference ones."""

from __future__ import annotations

import numpy as np
import pytest
from eth_utils.address import to_checksum_address

from llmnet.errors import InputError
from llmnet.types import DomainCard, checksum, joined_hashes


def test_checksum_matches_eth_utils() -> None:
    rng = np.random.default_rng(0)
    for i in range(2000):
        address = "0x" + rng.bytes(20).hex()
        address = address.upper().replace("0X", "0x") if i % 2 else address
        assert checksum(address) == to_checksum_address(address)
        assert checksum(to_checksum_address(address)) == to_checksum_address(address)


def test_joined_hashes_lowercases_and_joins() -> None:
    a, b = "0x" + "AB" * 32, "0x" + "12" * 32
    assert joined_hashes([a, b]) == a.lower() + b
    assert joined_hashes([]) == ""


@pytest.mark.parametrize("bad", ["0x12", "0x" + "g" * 64, "0x" + " " * 64, 5, b"0x" + b"1" * 64])
def test_joined_hashes_names_the_first_bad_value(bad: object) -> None:
    with pytest.raises(InputError, match=r"receipt hash .* is not a 32-byte hash"):
        joined_hashes(["0x" + "11" * 32, bad, "0x"], "receipt hash")  # type: ignore[list-item]


def test_joined_hashes_refuses_two_hashes_glued_into_one_value() -> None:
    with pytest.raises(InputError):
        joined_hashes(["0x" + "11" * 32 + "0x" + "22" * 32, ""])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"description": "x" * 257}, "257 bytes"),
        ({"corpus_hash": "0x" + "ab" * 32}, "go together"),
        ({"corpus_url": "http://127.0.0.1:8401/v1/corpus/x"}, "go together"),
        ({"corpus_hash": "0x" + "ab" * 32, "corpus_url": "ftp://example.org/c"}, "http:// or https://"),
        ({"corpus_hash": "0x" + "ab" * 32, "corpus_url": "http://" + "x" * 130}, "longer than 128"),
    ],
)
def test_a_domain_card_that_the_registry_would_not_hold_is_refused(fields: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        DomainCard("law", **fields)
