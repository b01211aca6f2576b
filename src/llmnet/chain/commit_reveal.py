"""What a validator commits to and reveals for one rating epoch (see contracts/ValidatorBook.vy).

The ratings root is the Merkle root (as :mod:`llmnet.chain.merkle` builds it) over the EIP-712
digests of the validator's signed ratings for the epoch, in the order it lists them, so any
single rating can later be proven to be part of what was revealed. The commitment binds the
validator's own address, so nobody can commit someone else's commitment as their own.

>>> c = commitment("0x" + "11" * 20, 7, "0x" + "22" * 32, 3, "0x" + "33" * 32)
>>> len(c), c[:2]
(66, '0x')
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from llmnet.chain.merkle import MerkleTree
from llmnet.hashing import keccak256
from llmnet.types import ZERO_HASH, check_hash, checksum


def ratings_root(rating_digests: Sequence[str]) -> str:
    """The Merkle root over rating digests (0x hex); the zero hash for an epoch without ratings."""
    return MerkleTree(list(rating_digests)).root if rating_digests else ZERO_HASH


def commitment(validator: str, epoch: int, root: str, count: int, salt: str) -> str:
    """keccak256(abi.encode(validator, epoch, root, count, salt)), as ValidatorBook.commitment_of."""
    words = (
        bytes(12) + bytes.fromhex(checksum(validator, "validator")[2:])
        + epoch.to_bytes(32, "big")
        + bytes.fromhex(check_hash(root, "ratings root")[2:])
        + count.to_bytes(32, "big")
        + bytes.fromhex(check_hash(salt, "salt")[2:])
    )  # fmt: skip
    return "0x" + keccak256(words).hex()


def new_salt() -> str:
    return "0x" + secrets.token_bytes(32).hex()
