"""Merkle trees over receipt hashes, hashed exactly as TaskEscrow.verify_receipt does.

Leaves are ``keccak256(0x00 ++ receipt_hash)``; an inner node is
``keccak256(0x01 ++ min(a, b) ++ max(a, b))``, so a proof is just the list of
siblings from leaf to root. An odd node at a level is carried up unchanged.

>>> tree = MerkleTree(["0x" + "11" * 32, "0x" + "22" * 32, "0x" + "33" * 32])
>>> verify_proof(tree.root, "0x" + "22" * 32, tree.proof(1))
True
"""

from __future__ import annotations

from collections.abc import Sequence

from llmnet.errors import InputError
from llmnet.hashing import keccak256
from llmnet.types import ZERO_HASH, check_hash, joined_hashes


def leaf_hash(receipt_hash: str) -> bytes:
    return leaf_hashes([receipt_hash])[0]


def node_hash(a: bytes, b: bytes) -> bytes:
    return keccak256(b"\x01" + min(a, b) + max(a, b))


def leaf_hashes(receipt_hashes: Sequence[str]) -> list[bytes]:
    """Each receipt's leaf, ``keccak256(0x00 ++ receipt_hash)``: one check and one hex decoding for
    the whole batch, each leaf's ``0x00`` prefix decoded from the ``0x`` that starts its hash."""
    raw = memoryview(bytes.fromhex(joined_hashes(receipt_hashes, "receipt hash").replace("0x", "00")))
    return [keccak256(raw[i : i + 33]) for i in range(0, len(raw), 33)]


def _level_up(level: list[bytes]) -> list[bytes]:
    """The next level: :func:`node_hash` of each pair, an odd last node carried up."""
    pairs = zip(level[: len(level) - 1 : 2], level[1::2], strict=True)
    up = [node_hash(a, b) for a, b in pairs]
    if len(level) % 2:
        up.append(level[-1])
    return up


class MerkleTree:
    def __init__(self, receipt_hashes: Sequence[str]) -> None:
        self.leaves = leaf_hashes(receipt_hashes)
        self.levels: list[list[bytes]] = [self.leaves]
        while len(self.levels[-1]) > 1:
            self.levels.append(_level_up(self.levels[-1]))

    @property
    def root(self) -> str:
        if not self.leaves:
            return ZERO_HASH
        return "0x" + self.levels[-1][0].hex()

    def proof(self, index: int) -> list[str]:
        if not 0 <= index < len(self.leaves):
            raise InputError(f"leaf index {index} is outside the tree of {len(self.leaves)} receipts")
        siblings = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                siblings.append("0x" + level[sibling].hex())
            index //= 2
        return siblings


def verify_proof(root: str, receipt_hash: str, proof: Sequence[str]) -> bool:
    node = leaf_hash(receipt_hash)
    for sibling in proof:
        node = node_hash(node, bytes.fromhex(check_hash(sibling, "proof node")[2:]))
    return "0x" + node.hex() == root.lower()
