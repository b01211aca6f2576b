"""The ValidatorBook part of :class:`llmnet.chain.memory_ledger.MemoryLedger`: validator stake,
trust and the commit-reveal of ratings, with ValidatorBook.vy's rules and revert strings."""

from __future__ import annotations

from collections.abc import Sequence

from llmnet.chain.commit_reveal import commitment
from llmnet.chain.ledger import Account
from llmnet.chain.memory_state import (
    PPM,
    MemoryParams,
    ValidatorRecord,
    address_of,
    amount_of,
    refuse,
    require,
    start_unstake,
    take_unstaked,
)
from llmnet.types import ZERO_HASH, TxReceipt, ValidatorInfo, check_hash


class MemoryValidators:
    """Mixed into MemoryLedger, which provides the clock, the writes and the balances."""

    params: MemoryParams
    governance: str
    time: int
    _validators: dict[str, ValidatorRecord]
    _settlers: list[str]
    _balances: dict[str, int]

    def _block_time(self) -> int:
        raise NotImplementedError

    def _write(self, value: int | None = None) -> TxReceipt:
        raise NotImplementedError

    def _pay_in(self, sender: Account, value: int) -> str:
        raise NotImplementedError

    @property
    def validator_min_stake(self) -> int:
        return self.params.validator_min_stake

    @property
    def epoch_length(self) -> int:
        return self.params.epoch_length

    def register_validator(
        self, endpoint: str, judge_model_id: str, judge_weights_hash: str, stake: int, sender: Account
    ) -> TxReceipt:
        weights = check_hash(judge_weights_hash, "judge weights hash")
        context = (
            f"registering a validator with stake {amount_of(stake, 'stake')} wei, minimum {self.validator_min_stake}"
        )
        who = self._pay_in(sender, stake)
        require(who not in self._validators, "validator is already registered", context)
        require(stake >= self.validator_min_stake, "stake below the minimum validator stake", context)
        require(len(endpoint) > 0, "endpoint is empty", context)
        require(len(judge_model_id) > 0, "judge model id is empty", context)
        self._balances[who] -= stake
        trust = self.params.initial_trust_ppm
        self._validators[who] = ValidatorRecord(endpoint, judge_model_id, weights, stake, trust, self._block_time())
        return self._write()

    def _validator(self, address: str, context: str = "") -> ValidatorRecord:
        v = self._validators.get(address)
        if v is None:
            refuse("validator not registered", context)
        assert v is not None
        return v

    def get_validator(self, address: str) -> ValidatorInfo:
        who = address_of(address, "validator")
        v = self._validator(who, f"validator {who}")
        return ValidatorInfo(who, v.endpoint, v.judge_model_id, v.judge_weights_hash, v.stake, v.unstaking,
                             v.unlock_at, v.trust_ppm, v.registered_at)  # fmt: skip

    def is_validator(self, address: str) -> bool:
        return address_of(address, "validator") in self._validators

    def validators(self) -> list[ValidatorInfo]:
        return [self.get_validator(v) for v in self._validators]

    def _epoch_now(self) -> int:
        return self._block_time() // self.epoch_length

    def commit_ratings(self, epoch: int, commitment: str, sender: Account) -> TxReceipt:
        who = address_of(sender.address, "sender")
        context = f"committing ratings of epoch {epoch}"
        check_hash(commitment, "commitment")
        v = self._validator(who, context)
        require(commitment != ZERO_HASH, "commitment is empty", context)
        during = self._epoch_now() == epoch + 1
        require(during, "ratings of an epoch are committed during the next epoch", context)
        require(epoch not in v.commitments, "already committed for this epoch", context)
        v.commitments[epoch] = commitment.lower()
        return self._write()

    def reveal_ratings(self, epoch: int, ratings_root: str, count: int, salt: str, sender: Account) -> TxReceipt:
        who = address_of(sender.address, "sender")
        context = f"revealing ratings of epoch {epoch}"
        root = check_hash(ratings_root, "ratings root")
        expected = commitment(who, epoch, root, count, check_hash(salt, "salt"))
        require(self._epoch_now() == epoch + 2, "ratings of an epoch are revealed two epochs later", context)
        v = self._validators.get(who)
        require(v is not None and epoch in v.commitments, "nothing was committed for this epoch", context)
        assert v is not None
        require(epoch not in v.reveals, "already revealed", context)
        require(v.commitments[epoch] == expected, "reveal does not match the commitment", context)
        v.reveals[epoch] = root
        return self._write()

    def revealed_root(self, validator: str, epoch: int) -> str | None:
        v = self._validators.get(address_of(validator, "validator"))
        return None if v is None or v.reveals.get(epoch, ZERO_HASH) == ZERO_HASH else v.reveals[epoch]

    def missed_reveal(self, validator: str, epoch: int) -> bool:
        v = self._validators.get(address_of(validator, "validator"))
        if v is None:
            return False
        return epoch in v.commitments and epoch not in v.reveals and self.time // self.epoch_length > epoch + 2

    def _may_judge(self, sender: Account) -> bool:
        who = address_of(sender.address, "sender")
        return who == self.governance or who in self._settlers

    def set_trust(self, updates: Sequence[tuple[str, int]], sender: Account) -> TxReceipt:
        rows = [(address_of(v, "validator"), int(t)) for v, t in updates]
        context = f"recording the trust of {len(rows)} validators"
        require(self._may_judge(sender), "only a settler or governance may record trust", context)
        for who, trust in rows:
            self._validator(who, context)
            require(0 <= trust <= PPM, "trust is above 1,000,000 ppm", context)
        for who, trust in rows:
            self._validators[who].trust_ppm = trust
        return self._write()

    def slash_validator(self, validator: str, amount: int, reason: int, sender: Account) -> TxReceipt:
        who = address_of(validator, "validator")
        context = f"slashing validator {validator}"
        amount_of(amount, "amount")
        require(self._may_judge(sender), "only a settler or governance may slash", context)
        v = self._validator(who, context)
        taken = min(amount, v.stake + v.unstaking)
        from_stake = min(taken, v.stake)
        v.stake -= from_stake
        v.unstaking -= taken - from_stake
        return self._write()

    def update_validator(
        self, endpoint: str, judge_model_id: str, judge_weights_hash: str, sender: Account
    ) -> TxReceipt:
        who = address_of(sender.address, "sender")
        weights = check_hash(judge_weights_hash, "judge weights hash")
        context = f"moving validator {who} to {endpoint}"
        v = self._validator(who, context)
        require(len(endpoint) > 0, "endpoint is empty", context)
        require(len(judge_model_id) > 0, "judge model id is empty", context)
        v.endpoint, v.judge_model_id, v.judge_weights_hash = endpoint, judge_model_id, weights
        return self._write()

    def add_validator_stake(self, amount: int, sender: Account) -> TxReceipt:
        who = self._pay_in(sender, amount)
        v = self._validator(who, f"adding {amount} wei of validator stake")
        require(amount > 0, "no stake sent")
        self._balances[who] -= amount
        v.stake += amount
        return self._write()

    def request_validator_unstake(self, amount: int, sender: Account) -> TxReceipt:
        context = f"unstaking {amount_of(amount, 'amount')} wei of validator stake"
        v = self._validator(address_of(sender.address, "sender"), context)
        start_unstake(v, amount, self._block_time() + self.params.cooldown, context)
        return self._write()

    def withdraw_validator_stake(self, sender: Account) -> TxReceipt:
        who = address_of(sender.address, "sender")
        amount = take_unstaked(self._validators.get(who), self._block_time(), "withdrawing unstaked validator stake")
        self._balances[who] = self._balances.get(who, 0) + amount
        return self._write()
