"""MerkleTree and verify_proof, hashed as TaskEscrow.verify_receipt does (no chain;
tests/integration/test_contract_escrow.py checks the contract agrees)."""

from __future__ import annotations

import math
import random

import pytest
from eth_utils.crypto import keccak

from llmnet.chain.merkle import MerkleTree, leaf_hash, node_hash, verify_proof
from llmnet.errors import InputError
from llmnet.types import ZERO_HASH


def receipt(i: int) -> str:
    return "0x" + keccak(i.to_bytes(8, "big")).hex()


def hex32(b: bytes) -> str:
    return "0x" + b.hex()


def flip(node: str, position: int = 10) -> str:
    """``node`` with one hex digit changed."""
    digit = "0" if node[position] != "0" else "1"
    return node[:position] + digit + node[position + 1 :]


@pytest.mark.parametrize("size", range(1, 34))
def test_every_leaf_verifies(size: int) -> None:
    receipts = [receipt(i) for i in range(size)]
    tree = MerkleTree(receipts)
    depth = math.ceil(math.log2(size)) if size > 1 else 0
    for i, r in enumerate(receipts):
        proof = tree.proof(i)
        assert len(proof) <= depth
        assert verify_proof(tree.root, r, proof), (size, i)


@pytest.mark.parametrize("size", [2, 3, 5, 8, 13, 33])
def test_tampered_proofs_fail(size: int) -> None:
    receipts = [receipt(i) for i in range(size)]
    tree = MerkleTree(receipts)
    outsider = receipt(10_000)
    for i, r in enumerate(receipts):
        proof = tree.proof(i)
        for k in range(len(proof)):
            assert not verify_proof(tree.root, r, [*proof[:k], flip(proof[k]), *proof[k + 1 :]])
        assert not verify_proof(tree.root, flip(r), proof)
        assert not verify_proof(tree.root, outsider, proof)
        assert not verify_proof(tree.root, r, proof[:-1])
        assert not verify_proof(tree.root, r, [*proof, proof[-1]])
        assert not verify_proof(flip(tree.root), r, proof)
        j = (i + 1) % size
        if tree.proof(j) != proof:
            assert not verify_proof(tree.root, r, tree.proof(j))


def test_single_leaf_tree() -> None:
    r = receipt(0)
    tree = MerkleTree([r])
    assert tree.root == hex32(leaf_hash(r))
    assert tree.proof(0) == []
    assert verify_proof(tree.root, r, [])
    assert not verify_proof(tree.root, r, [receipt(1)])
    assert tree.root != r  # leaves are hashed even alone


def test_shape_of_a_three_leaf_tree() -> None:
    a, b, c = (receipt(i) for i in range(3))
    la, lb, lc = leaf_hash(a), leaf_hash(b), leaf_hash(c)
    tree = MerkleTree([a, b, c])
    assert tree.root == hex32(node_hash(node_hash(la, lb), lc))  # the odd leaf is carried up
    assert tree.proof(0) == [hex32(lb), hex32(lc)]
    assert tree.proof(2) == [hex32(node_hash(la, lb))]


def test_hashing_rules() -> None:
    a, b = leaf_hash(receipt(0)), leaf_hash(receipt(1))
    assert leaf_hash(receipt(0)) == keccak(b"\x00" + bytes.fromhex(receipt(0)[2:]))
    assert node_hash(a, b) == node_hash(b, a) == keccak(b"\x01" + min(a, b) + max(a, b))
    # pairs are sorted, so siblings may swap; moving a leaf to another pair changes the root
    assert MerkleTree([receipt(0), receipt(1)]).root == MerkleTree([receipt(1), receipt(0)]).root
    four = [receipt(i) for i in range(4)]
    assert MerkleTree(four).root != MerkleTree([four[0], four[2], four[1], four[3]]).root


def test_an_inner_node_is_not_a_receipt() -> None:
    receipts = [receipt(i) for i in range(4)]
    tree = MerkleTree(receipts)
    inner = hex32(node_hash(leaf_hash(receipts[0]), leaf_hash(receipts[1])))
    # the node is in the tree, but leaves and nodes are hashed apart, so it cannot pose as a leaf
    assert not verify_proof(tree.root, inner, tree.proof(0)[1:])


def test_duplicate_receipts_each_verify() -> None:
    receipts = [receipt(1), receipt(1), receipt(2)]
    tree = MerkleTree(receipts)
    for i, r in enumerate(receipts):
        assert verify_proof(tree.root, r, tree.proof(i))


def test_bad_input() -> None:
    tree = MerkleTree([receipt(i) for i in range(5)])
    for index in (-1, 5, 100):
        with pytest.raises(InputError, match="outside the tree"):
            tree.proof(index)
    with pytest.raises(InputError):
        MerkleTree(["0x1234"])
    with pytest.raises(InputError):
        verify_proof(tree.root, "not a hash", tree.proof(0))
    with pytest.raises(InputError):
        verify_proof(tree.root, receipt(0), ["0x12"])


def test_empty_tree() -> None:
    tree = MerkleTree([])
    assert tree.root == ZERO_HASH
    with pytest.raises(InputError):
        tree.proof(0)


def test_roots_compare_case_insensitively() -> None:
    tree = MerkleTree([receipt(i) for i in range(3)])
    upper = "0x" + tree.root[2:].upper()
    assert verify_proof(upper, receipt(1), tree.proof(1))
    assert verify_proof(tree.root, receipt(1).upper().replace("0X", "0x"), tree.proof(1))


def test_a_large_tree() -> None:
    rng = random.Random(12)
    receipts = [receipt(i) for i in range(1000)]
    tree = MerkleTree(receipts)
    for i in rng.sample(range(1000), 50):
        proof = tree.proof(i)
        assert len(proof) <= 10
        assert verify_proof(tree.root, receipts[i], proof)
        assert not verify_proof(tree.root, receipts[(i + 1) % 1000], proof)
