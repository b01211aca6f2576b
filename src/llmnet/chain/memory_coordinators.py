"""The coordinators part of :class:`llmnet.chain.memory_ledger.MemoryLedger`: staked coordinators
and their public URLs, with ValidatorBook.vy's rules and revert strings."""

from __future__ import annotations

from llmnet.chain.ledger import Account
from llmnet.chain.memory_state import (
    CoordinatorRecord,
    MemoryParams,
    address_of,
    amount_of,
    refuse,
    require,
    start_unstake,
    take_unstaked,
)
from llmnet.types import CoordinatorInfo, TxReceipt


class MemoryCoordinators:
    """Mixed into MemoryLedger, which provides the clock, the writes and the balances."""

    params: MemoryParams
    _coordinators: dict[str, CoordinatorRecord]
    _balances: dict[str, int]

    def _block_time(self) -> int:
        raise NotImplementedError

    def _write(self, value: int | None = None) -> TxReceipt:
        raise NotImplementedError

    def _pay_in(self, sender: Account, value: int) -> str:
        raise NotImplementedError

    def _coordinator(self, address: str, context: str = "") -> CoordinatorRecord:
        c = self._coordinators.get(address)
        if c is None:
            refuse("coordinator not registered", context)
        assert c is not None
        return c

    def register_coordinator(self, endpoint: str, stake: int, sender: Account) -> TxReceipt:
        minimum = self.params.validator_min_stake
        context = f"registering coordinator {sender.address} at {endpoint} with stake {amount_of(stake, 'stake')} wei"
        who = self._pay_in(sender, stake)
        require(who not in self._coordinators, "coordinator is already registered", context)
        require(stake >= minimum, "stake below the minimum coordinator stake", context)
        require(len(endpoint) > 0, "endpoint is empty", context)
        self._balances[who] -= stake
        self._coordinators[who] = CoordinatorRecord(endpoint, stake, self._block_time())
        return self._write()

    def update_coordinator(self, endpoint: str, sender: Account) -> TxReceipt:
        context = f"moving coordinator to {endpoint}"
        c = self._coordinator(address_of(sender.address, "sender"), context)
        require(len(endpoint) > 0, "endpoint is empty", context)
        c.endpoint = endpoint
        return self._write()

    def add_coordinator_stake(self, amount: int, sender: Account) -> TxReceipt:
        who = self._pay_in(sender, amount)
        c = self._coordinator(who, f"adding {amount} wei of coordinator stake")
        require(amount > 0, "no stake sent")
        self._balances[who] -= amount
        c.stake += amount
        return self._write()

    def request_coordinator_unstake(self, amount: int, sender: Account) -> TxReceipt:
        context = f"unstaking {amount_of(amount, 'amount')} wei of coordinator stake"
        c = self._coordinator(address_of(sender.address, "sender"), context)
        start_unstake(c, amount, self._block_time() + self.params.cooldown, context)
        return self._write()

    def withdraw_coordinator_stake(self, sender: Account) -> TxReceipt:
        who = address_of(sender.address, "sender")
        context = "withdrawing unstaked coordinator stake"
        amount = take_unstaked(self._coordinators.get(who), self._block_time(), context)
        self._balances[who] = self._balances.get(who, 0) + amount
        return self._write()

    def get_coordinator(self, address: str) -> CoordinatorInfo:
        who = address_of(address, "coordinator")
        c = self._coordinator(who, f"coordinator {who}")
        return CoordinatorInfo(who, c.endpoint, c.stake, c.unstaking, c.unlock_at, c.registered_at)

    def is_coordinator(self, address: str) -> bool:
        return address_of(address, "coordinator") in self._coordinators

    def coordinators(self) -> list[CoordinatorInfo]:
        return [self.get_coordinator(c) for c in self._coordinators]
