"""keccak256, Ethereum's hash, through the C implementation in ``safe-pysha3``.

About 4x faster than eth_utils' default backend for the short inputs llmnet hashes
on every request (EIP-712 digests, content hashes, recovered addresses).
"""

from __future__ import annotations

from sha3 import keccak_256


def keccak256(data: bytes | memoryview) -> bytes:
    return keccak_256(data).digest()
