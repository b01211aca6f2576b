"""What each party does with its own money on chain: stake, credits, the escrow, refunds.

A :class:`Wallet` is one account on one ledger. Each write is checked first against what the
contract would refuse, and a refusal raises the contract's typed error with its own reason and
what to do about it (how much there is, how long a cooldown has left, which command registers);
the write is sent only when it would pass, and its :class:`WalletReceipt` says what was done.

    >>> wallet = Wallet(ledger, account)  # doctest: +SKIP
    >>> wallet.unstake("validator", ETHER // 10).done  # doctest: +SKIP
    'moved 0.1 ETH of validator stake into the cooldown; withdrawable from 2026-12-08 10:00 UTC'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from llmnet.chain.ledger import Account, Ledger
from llmnet.errors import (
    AlreadyRefunded,
    AlreadySettled,
    CooldownActive,
    DeadlineNotReached,
    InputError,
    InsufficientFunds,
    NothingToWithdraw,
    StakeTooLow,
    UnknownProvider,
)
from llmnet.types import TaskStatus, TxReceipt, checksum, ether

Role = Literal["respondent", "validator", "coordinator"]
ROLES: tuple[Role, ...] = ("respondent", "validator", "coordinator")
Send = Callable[[int, Account], TxReceipt]


class _Staked(Protocol):
    @property
    def stake(self) -> int: ...

    @property
    def unstaking(self) -> int: ...

    @property
    def unlock_at(self) -> int: ...


@dataclass(frozen=True)
class _Book:
    """Where a role stakes: the ledger calls, the contract's revert strings, and how to register."""

    contract: str
    not_registered: str
    exceeds: str
    nothing: str
    register: str
    idle: str  # what unstaking any of it means for the role's work, "" when only the minimum counts
    registered: Callable[[Ledger, str], bool]
    info: Callable[[Ledger, str], _Staked]
    minimum: Callable[[Ledger], int]
    add: Callable[[Ledger], Send]
    unstake: Callable[[Ledger], Send]
    withdraw: Callable[[Ledger], Callable[[Account], TxReceipt]]


_BOOKS: dict[Role, _Book] = {
    "respondent": _Book(
        "the provider registry", "provider not registered", "unstake amount exceeds stake", "nothing to withdraw",
        "`llmnet serve respondent` or `llmnet providers register`", "",
        lambda led, a: led.is_registered(a), lambda led, a: led.get_provider(a), lambda led: led.min_stake,
        lambda led: led.add_stake, lambda led: led.request_unstake, lambda led: led.withdraw_stake,
    ),
    "validator": _Book(
        "the validator book", "validator not registered", "amount exceeds the stake", "nothing is unstaking",
        "`llmnet serve validator`", "coordinators ask it to rate nothing until the unstaking stake is withdrawn",
        lambda led, a: led.is_validator(a), lambda led, a: led.get_validator(a), lambda led: led.validator_min_stake,
        lambda led: led.add_validator_stake, lambda led: led.request_validator_unstake,
        lambda led: led.withdraw_validator_stake,
    ),
    "coordinator": _Book(
        "the validator book", "coordinator not registered", "amount exceeds the stake", "nothing is unstaking",
        "`llmnet serve coordinator`", "respondents and validators take no work from it until it is withdrawn",
        lambda led, a: led.is_coordinator(a), lambda led, a: led.get_coordinator(a),
        lambda led: led.validator_min_stake, lambda led: led.add_coordinator_stake,
        lambda led: led.request_coordinator_unstake, lambda led: led.withdraw_coordinator_stake,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class StakePosition:
    """An account's stake in one role: staked, unstaking (and from when it can be withdrawn), the minimum."""

    role: Role
    stake: int
    unstaking: int
    unlock_at: int
    minimum: int


@dataclass(frozen=True)
class WalletReceipt:
    """One line saying what was done, and the transaction that did it."""

    done: str
    tx_hash: str
    block_number: int


def utc(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def duration(seconds: int) -> str:
    """``2 h 05 min``, ``3 min 20 s``: a wait as people read it."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _positive(amount: int, what: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InputError(f"{what} must be a positive amount of wei, got {amount!r}")
    return amount


class Wallet:
    def __init__(self, ledger: Ledger, account: Account) -> None:
        self.ledger = ledger
        self.account = account
        self.address = checksum(account.address, "account")

    def _done(self, receipt: TxReceipt, done: str) -> WalletReceipt:
        return WalletReceipt(done, receipt.tx_hash, receipt.block_number)

    def _afford(self, amount: int) -> None:
        have = self.ledger.balance_of(self.address)
        if have < amount:
            raise InsufficientFunds(
                "insufficient funds for gas and value",
                f"{self.address} holds {ether(have)} and this sends {ether(amount)} plus gas; fund the account first",
            )

    # ---- stake
    def role(self, requested: Role | None) -> Role:
        """``requested``, else the one role the account is registered in."""
        if requested is not None:
            if requested not in ROLES:
                raise InputError(f"role {requested!r} is not one of {list(ROLES)}")
            return requested
        held = [r for r in ROLES if _BOOKS[r].registered(self.ledger, self.address)]
        if len(held) == 1:
            return held[0]
        if held:
            raise InputError(f"{self.address} is registered as {' and '.join(held)}: say which with --as")
        raise UnknownProvider(
            "not registered",
            f"{self.address} is not registered in any role on chain {self.ledger.chain_id}; register it first with "
            + ", ".join(_BOOKS[r].register for r in ROLES),
        )

    def position(self, role: Role) -> StakePosition:
        """The account's stake in ``role``; UnknownProvider when it is not registered in that role."""
        book, led = _BOOKS[role], self.ledger
        if not book.registered(led, self.address):
            raise UnknownProvider(
                book.not_registered,
                f"{self.address} is not a registered {role} in {book.contract} on chain {led.chain_id}; "
                f"register it first with {book.register}",
            )
        info = book.info(led, self.address)
        return StakePosition(role, info.stake, info.unstaking, info.unlock_at, book.minimum(led))

    def add_stake(self, role: Role, amount: int) -> WalletReceipt:
        p = self.position(role)
        _positive(amount, "the stake to add")
        if p.stake + amount < p.minimum:
            raise StakeTooLow(
                "stake below the minimum",
                f"{ether(p.stake)} + {ether(amount)} is still under the {role} minimum of {ether(p.minimum)}, "
                f"so the account would get no work; add at least {ether(p.minimum - p.stake)}",
            )
        self._afford(amount)
        receipt = _BOOKS[role].add(self.ledger)(amount, self.account)
        return self._done(receipt, f"added {ether(amount)} of {role} stake: {ether(p.stake + amount)} staked")

    def unstake(self, role: Role, amount: int | None) -> WalletReceipt:
        """Move ``amount`` (None: all) of stake into the cooldown. A stake left between zero and the
        minimum is refused: the account would keep its registration but get no work."""
        p, book = self.position(role), _BOOKS[role]
        amount = p.stake if amount is None else _positive(amount, "the stake to unstake")
        if amount == 0 or amount > p.stake:
            raise InsufficientFunds(book.exceeds, f"{ether(p.stake)} is staked; unstake at most that")
        left = p.stake - amount
        if 0 < left < p.minimum:
            raise StakeTooLow(
                "stake below the minimum",
                f"unstaking {ether(amount)} leaves {ether(left)}, under the {role} minimum of {ether(p.minimum)}, "
                f"so the account would get no work; unstake at most {ether(p.stake - p.minimum)}, or all (--all)",
            )
        receipt = book.unstake(self.ledger)(amount, self.account)
        unlock_at = self.position(role).unlock_at
        done = f"moved {ether(amount)} of {role} stake into the cooldown ({ether(left)} stays staked); "
        done += f"withdraw it from {utc(unlock_at)} with `llmnet stake withdraw`"
        return self._done(receipt, done + (f"; {book.idle}" if book.idle else ""))

    def withdraw_stake(self, role: Role) -> WalletReceipt:
        p, book = self.position(role), _BOOKS[role]
        if p.unstaking == 0:
            raise NothingToWithdraw(book.nothing, f"no {role} stake is unstaking; `llmnet stake unstake` first")
        wait = p.unlock_at - self.ledger.pending_time()
        if wait > 0:
            raise CooldownActive(
                "cooldown not over",
                f"{ether(p.unstaking)} unstaking becomes withdrawable in {duration(wait)}, at {utc(p.unlock_at)}",
            )
        receipt = book.withdraw(self.ledger)(self.account)
        return self._done(receipt, f"withdrew {ether(p.unstaking)} of {role} stake to {self.address}")

    # ---- credits earned
    def withdraw_credits(self) -> WalletReceipt:
        credits = self.ledger.credits_of(self.address)
        if credits == 0:
            raise NothingToWithdraw(
                "no credits to withdraw", f"{self.address} has earned no credits yet, or withdrew them all"
            )
        receipt = self.ledger.withdraw_credits(self.account)
        return self._done(receipt, f"withdrew {ether(credits)} of credits to {self.address}")

    # ---- the requester's escrow
    def deposit(self, amount: int) -> WalletReceipt:
        _positive(amount, "the deposit")
        self._afford(amount)
        receipt = self.ledger.deposit(amount, self.account)
        total = self.ledger.deposit_of(self.address)
        return self._done(receipt, f"deposited {ether(amount)} into the escrow: {ether(total)} deposited")

    def approve(self, spender: str, amount: int) -> WalletReceipt:
        spender = checksum(spender, "coordinator address")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise InputError(f"the allowance must be a non-negative amount of wei, got {amount!r}")
        receipt = self.ledger.approve(spender, amount, self.account)
        return self._done(receipt, f"allowed {spender} to open tasks paid from the deposit, up to {ether(amount)}")

    def withdraw_deposit(self, amount: int | None) -> WalletReceipt:
        """Take back ``amount`` (None: all) of the deposit."""
        have = self.ledger.deposit_of(self.address)
        amount = have if amount is None else _positive(amount, "the amount to withdraw")
        if amount == 0:
            raise NothingToWithdraw("nothing to withdraw", f"{self.address} has nothing deposited in the escrow")
        if amount > have:
            raise InsufficientFunds("amount exceeds deposit", f"{ether(have)} is deposited; withdraw at most that")
        receipt = self.ledger.withdraw_deposit(amount, self.account)
        return self._done(receipt, f"withdrew {ether(amount)} of the deposit ({ether(have - amount)} stays)")

    def refund(self, task_id: int) -> WalletReceipt:
        """Return an unsettled task's fee to its requester's deposit once its deadline has passed
        (anyone may send it; the fee goes to the requester)."""
        task = self.ledger.get_task(task_id)
        if task.status == TaskStatus.SETTLED:
            raise AlreadySettled("task already settled", f"task {task_id} was settled: its fee went to its answerers")
        if task.status == TaskStatus.REFUNDED:
            raise AlreadyRefunded("task already refunded", f"task {task_id}'s fee is back in the deposit already")
        wait = task.deadline - self.ledger.pending_time() + 1
        if wait > 0:
            raise DeadlineNotReached(
                "deadline not reached",
                f"task {task_id} may still be settled until {utc(task.deadline)}; refund it in {duration(wait)}",
            )
        receipt = self.ledger.refund(task_id, self.account)
        return self._done(receipt, f"refunded task {task_id}: {ether(task.fee)} back in {task.requester}'s deposit")
