"""The validator book's members on a real EVM: validators moving and managing their stake, and
coordinators (staked, with the public URL they serve from). Mixed into
:class:`llmnet.chain.web3_ledger.Web3Ledger`, which provides the contracts and the writes."""

from __future__ import annotations

from typing import Any

from llmnet.chain.calls import ChainCall
from llmnet.chain.ledger import Account
from llmnet.chain.transactions import MinedTx
from llmnet.errors import InputError
from llmnet.types import CoordinatorInfo, TxReceipt, check_hash, checksum

VALIDATORS = "ValidatorBook"


def _amount(value: int, what: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise InputError(f"{what} must be a non-negative integer amount in wei, got {value!r}")
    return value


class Web3Members:
    """Validator stake and coordinators, through ``validator_book``."""

    validator_book: Any

    def execute(self, call: ChainCall, sender: Account) -> MinedTx:
        raise NotImplementedError

    def _call(self, fn: Any, context: str = "") -> Any:
        raise NotImplementedError

    def _send(
        self, function: str, args: tuple[Any, ...], sender: Account, value: int = 0, context: str = ""
    ) -> TxReceipt:
        call = ChainCall(VALIDATORS, function, args, value, context or function.replace("_", " "))
        mined = self.execute(call, sender)
        return TxReceipt(mined.tx_hash, mined.block_number, mined.gas_used, None)

    # ---- validators
    def update_validator(
        self, endpoint: str, judge_model_id: str, judge_weights_hash: str, sender: Account
    ) -> TxReceipt:
        weights = bytes.fromhex(check_hash(judge_weights_hash, "judge weights hash")[2:])
        return self._send("update_validator", (endpoint, judge_model_id, weights), sender,
                          context=f"moving validator {sender.address} to {endpoint}")  # fmt: skip

    def add_validator_stake(self, amount: int, sender: Account) -> TxReceipt:
        return self._send("add_stake", (), sender, _amount(amount, "amount"), f"adding {amount} wei of validator stake")

    def request_validator_unstake(self, amount: int, sender: Account) -> TxReceipt:
        args = (_amount(amount, "amount"),)
        return self._send("request_unstake", args, sender, context=f"unstaking {amount} wei of validator stake")

    def withdraw_validator_stake(self, sender: Account) -> TxReceipt:
        return self._send("withdraw", (), sender, context="withdrawing unstaked validator stake")

    # ---- coordinators
    def register_coordinator(self, endpoint: str, stake: int, sender: Account) -> TxReceipt:
        context = f"registering coordinator {sender.address} at {endpoint} with stake {_amount(stake, 'stake')} wei"
        return self._send("register_coordinator", (endpoint,), sender, stake, context)

    def update_coordinator(self, endpoint: str, sender: Account) -> TxReceipt:
        return self._send("update_coordinator", (endpoint,), sender, context=f"moving coordinator to {endpoint}")

    def add_coordinator_stake(self, amount: int, sender: Account) -> TxReceipt:
        context = f"adding {_amount(amount, 'amount')} wei of coordinator stake"
        return self._send("add_coordinator_stake", (), sender, amount, context)

    def request_coordinator_unstake(self, amount: int, sender: Account) -> TxReceipt:
        args = (_amount(amount, "amount"),)
        context = f"unstaking {amount} wei of coordinator stake"
        return self._send("request_coordinator_unstake", args, sender, context=context)

    def withdraw_coordinator_stake(self, sender: Account) -> TxReceipt:
        return self._send("withdraw_coordinator", (), sender, context="withdrawing unstaked coordinator stake")

    def get_coordinator(self, address: str) -> CoordinatorInfo:
        address = checksum(address, "coordinator")
        raw = self._call(self.validator_book.functions.get_coordinator(address), f"coordinator {address}")
        endpoint, stake, unstaking, unlock_at, registered_at = raw
        return CoordinatorInfo(address, endpoint, stake, unstaking, unlock_at, registered_at)

    def is_coordinator(self, address: str) -> bool:
        return bool(self._call(self.validator_book.functions.is_coordinator(checksum(address, "coordinator"))))

    def coordinators(self) -> list[CoordinatorInfo]:
        return [self.get_coordinator(a) for a in self._call(self.validator_book.functions.all_coordinators())]
