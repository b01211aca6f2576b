"""The ValidatorBook side of :class:`llmnet.chain.web3_ledger.Web3Ledger`: validator stake, trust,
the commit-reveal of ratings, and the spot checks validators attest (``TaskEscrow.convict``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from eth_utils.crypto import keccak

from llmnet.chain.abi_values import bytes32_arg as _b32
from llmnet.chain.abi_values import hex_of as _hex
from llmnet.chain.abi_values import wei_arg as _amount
from llmnet.chain.calls import ChainCall
from llmnet.chain.ledger import Account
from llmnet.chain.transactions import MinedTx
from llmnet.signing import Response, SignedMessage, SpotCheck
from llmnet.types import TxReceipt, ValidatorInfo, checksum

VALIDATORS = "ValidatorBook"
ESCROW = "TaskEscrow"


class Web3Validators:
    """Mixed into Web3Ledger, which provides the contracts, the calls and the writes."""

    validator_book: Any
    escrow: Any

    def _call(self, fn: Any, context: str = "") -> Any:
        raise NotImplementedError

    @staticmethod
    def _bind(fn: Any, args: Sequence[Any]) -> Any:
        raise NotImplementedError

    def execute(self, call: ChainCall, sender: Account) -> MinedTx:
        raise NotImplementedError

    @staticmethod
    def _receipt(mined: MinedTx, value: int | None = None) -> TxReceipt:
        raise NotImplementedError

    # ---- stake and trust
    @cached_property
    def validator_min_stake(self) -> int:
        return int(self._call(self.validator_book.functions.min_stake()))

    @cached_property
    def epoch_length(self) -> int:
        return int(self._call(self.validator_book.functions.epoch_length()))

    def register_validator(
        self, endpoint: str, judge_model_id: str, judge_weights_hash: str, stake: int, sender: Account
    ) -> TxReceipt:
        args = (endpoint, judge_model_id, _b32(judge_weights_hash, "judge weights hash"))
        minimum = self.validator_min_stake
        context = f"registering a validator with stake {_amount(stake, 'stake')} wei, minimum {minimum}"
        return self._receipt(self.execute(ChainCall(VALIDATORS, "register", args, stake, context), sender))

    def get_validator(self, address: str) -> ValidatorInfo:
        address = checksum(address, "validator")
        raw = self._call(self.validator_book.functions.get_validator(address), f"validator {address}")
        endpoint, model_id, weights, stake, unstaking, unlock_at, trust, registered_at = raw
        return ValidatorInfo(address, endpoint, model_id, _hex(weights), stake, unstaking, unlock_at, trust,
                             registered_at)  # fmt: skip

    def is_validator(self, address: str) -> bool:
        return bool(self._call(self.validator_book.functions.is_validator(checksum(address, "validator"))))

    def validators(self) -> list[ValidatorInfo]:
        return [self.get_validator(row[0]) for row in self._call(self.validator_book.functions.all_validators())]

    def commit_call(self, epoch: int, commitment: str) -> ChainCall:
        args = (epoch, _b32(commitment, "commitment"))
        return ChainCall(VALIDATORS, "commit", args, context=f"committing ratings of epoch {epoch}")

    def commit_ratings(self, epoch: int, commitment: str, sender: Account) -> TxReceipt:
        return self._receipt(self.execute(self.commit_call(epoch, commitment), sender))

    def reveal_call(self, epoch: int, ratings_root: str, count: int, salt: str) -> ChainCall:
        args = (epoch, _b32(ratings_root, "ratings root"), count, _b32(salt, "salt"))
        return ChainCall(VALIDATORS, "reveal", args, context=f"revealing ratings of epoch {epoch}")

    def reveal_ratings(self, epoch: int, ratings_root: str, count: int, salt: str, sender: Account) -> TxReceipt:
        return self._receipt(self.execute(self.reveal_call(epoch, ratings_root, count, salt), sender))

    def revealed_root(self, validator: str, epoch: int) -> str | None:
        raw = self._call(self._bind(self.validator_book.functions.reveals, (checksum(validator, "validator"), epoch)))
        return None if bytes(raw) == bytes(32) else _hex(raw)

    def missed_reveal(self, validator: str, epoch: int) -> bool:
        fn = self._bind(self.validator_book.functions.missed_reveal, (checksum(validator, "validator"), epoch))
        return bool(self._call(fn))

    def set_trust_call(self, updates: Sequence[tuple[str, int]]) -> ChainCall:
        rows = [(checksum(v, "validator"), int(t)) for v, t in updates]
        return ChainCall(VALIDATORS, "set_trust", (rows,), context=f"recording the trust of {len(rows)} validators")

    def set_trust(self, updates: Sequence[tuple[str, int]], sender: Account) -> TxReceipt:
        return self._receipt(self.execute(self.set_trust_call(updates), sender))

    def slash_validator(self, validator: str, amount: int, reason: int, sender: Account) -> TxReceipt:
        args = (checksum(validator, "validator"), _amount(amount, "amount"), reason)
        call = ChainCall(VALIDATORS, "slash", args, context=f"slashing validator {validator}")
        return self._receipt(self.execute(call, sender))

    # ---- spot checks
    def convict_call(
        self, response: SignedMessage[Response], attestations: Sequence[SignedMessage[SpotCheck]]
    ) -> ChainCall:
        """Evidence that ``response`` is not what its registered weights produce: the respondent's
        signed response and validators' signed re-run results (TaskEscrow.convict)."""
        r = response.message
        signed = (r.task_id, r.respondent, _b32(r.content_hash, "content hash"), r.model_id,
                  _b32(r.weights_hash, "weights hash"), r.round, r.prompt_tokens, r.completion_tokens,
                  _b32(r.request_hash, "request hash"), bytes.fromhex(response.signature[2:]))  # fmt: skip
        checks = [
            (a.message.validator, _b32(a.message.recomputed_hash, "recomputed hash"), bytes.fromhex(a.signature[2:]))
            for a in attestations
        ]
        return ChainCall(ESCROW, "convict", (signed, checks), context=f"convicting {r.respondent} of task {r.task_id}")

    def convict(
        self, response: SignedMessage[Response], attestations: Sequence[SignedMessage[SpotCheck]], sender: Account
    ) -> TxReceipt:
        return self._receipt(self.execute(self.convict_call(response, attestations), sender))

    @cached_property
    def spot_quorum(self) -> int:
        """How many registered validators must attest a re-run mismatch to convict."""
        return int(self._call(self.escrow.functions.spot_quorum()))

    def is_convicted(self, task_id: int, respondent: str, round_: int) -> bool:
        key = keccak(task_id.to_bytes(32, "big") + bytes(12) + bytes.fromhex(checksum(respondent)[2:])
                     + round_.to_bytes(32, "big"))  # fmt: skip
        return bool(self._call(self.escrow.functions.convicted(key)))
