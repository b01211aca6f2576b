"""Rankings signed by their ranker (EIP-712), so that anyone may send them and the chain still knows whose they are.

The dashboard's users have an API key, not gas: the coordinator relays their rankings. Trusting the
relayer to name the ranker would let a coordinator rank as anyone; instead the ranker's wallet signs
the typed data below and the rankings contract recovers the signer with ``ecrecover``, so the chain
itself proves who ranked. Each ranking uses up the ranker's nonce, so a relayer cannot replay an old
signed ranking over a newer one.

    >>> message = RankingMessage(conversation_id=3, ranks=(1, 0), nonce=0)
    >>> typed = ranking_typed_data(message, chain_id=31337, contract="0x" + "11" * 20)
    >>> typed["primaryType"], typed["message"]
    ('Ranking', {'conversationId': 3, 'ranks': [1, 0], 'nonce': 0})
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field

from llmnet.hashing import keccak256
from llmnet.signing import SigningDomain, recover_digest, sign_digest

DOMAIN_NAME, DOMAIN_VERSION = "llmnet rankings", "1"  # as contracts/Rankings.vy hashes them
RANKING_FIELDS = (("conversationId", "uint256"), ("ranks", "uint8[]"), ("nonce", "uint256"))
_TYPE_HASH = keccak256(("Ranking(" + ",".join(f"{t} {n}" for n, t in RANKING_FIELDS) + ")").encode())
_DOMAIN_TYPES = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                 {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}]  # fmt: skip


class RankingMessage(BaseModel):
    """What a ranker signs: a conversation, its ranking (response indices, best first) and the ranker's nonce."""

    model_config = ConfigDict(frozen=True)

    conversation_id: int = Field(ge=0, lt=2**256)
    ranks: tuple[int, ...] = Field(min_length=1, max_length=16)
    nonce: int = Field(ge=0, lt=2**256)


class SignedRanking(BaseModel):
    """A ranking, the account that signed it and its 65-byte signature (0x hex)."""

    model_config = ConfigDict(frozen=True)

    message: RankingMessage
    ranker: str
    signature: str


def ranking_domain(chain_id: int, contract: str) -> SigningDomain:
    return SigningDomain(chain_id=chain_id, verifying_contract=contract, name=DOMAIN_NAME, version=DOMAIN_VERSION)


def ranking_typed_data(message: RankingMessage, *, chain_id: int, contract: str) -> dict[str, Any]:
    """The full EIP-712 structure, as a wallet's ``eth_signTypedData_v4`` takes it."""
    return {
        "types": {"EIP712Domain": list(_DOMAIN_TYPES), "Ranking": [{"name": n, "type": t} for n, t in RANKING_FIELDS]},
        "primaryType": "Ranking",
        "domain": ranking_domain(chain_id, contract).as_dict(),
        "message": {"conversationId": message.conversation_id, "ranks": list(message.ranks), "nonce": message.nonce},
    }


def _domain_separator(domain: SigningDomain) -> bytes:
    type_hash = keccak256(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    contract = bytes(12) + bytes.fromhex(domain.verifying_contract[2:])
    fields = keccak256(domain.name.encode()) + keccak256(domain.version.encode()) + domain.chain_id.to_bytes(32, "big")
    return keccak256(type_hash + fields + contract)


def ranking_digest(message: RankingMessage, *, chain_id: int, contract: str) -> bytes:
    """keccak256(0x1901 ++ domainSeparator ++ hashStruct(Ranking)); an array hashes as its 32-byte elements."""
    ranks_hash = keccak256(b"".join(r.to_bytes(32, "big") for r in message.ranks))
    struct_hash = keccak256(_TYPE_HASH + message.conversation_id.to_bytes(32, "big") + ranks_hash
                            + message.nonce.to_bytes(32, "big"))  # fmt: skip
    return keccak256(b"\x19\x01" + _domain_separator(ranking_domain(chain_id, contract)) + struct_hash)


def sign_ranking(message: RankingMessage, account: LocalAccount, *, chain_id: int, contract: str) -> SignedRanking:
    """``account``'s signature of ``message`` for the rankings contract at ``contract``."""
    signature = sign_digest(ranking_digest(message, chain_id=chain_id, contract=contract), account)
    return SignedRanking(message=message, ranker=account.address, signature=signature)


def ranking_signer(message: RankingMessage, signature: str, *, chain_id: int, contract: str) -> str:
    """The checksummed account that signed ``message``; SignatureError if the signature is malformed."""
    return recover_digest(ranking_digest(message, chain_id=chain_id, contract=contract), signature)
