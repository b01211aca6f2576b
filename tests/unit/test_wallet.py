"""Every party's wallet on the in-memory ledger: stake, credits, the escrow, refunds, and each refusal
raised before anything is sent, with what to do about it."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.memory_ledger import MemoryLedger, MemoryParams
from llmnet.chain.network import dev_account
from llmnet.chain.wallet import Role, Wallet, duration
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
from llmnet.types import ETHER, ZERO_HASH, Payout, ProviderProfile, SettlementBatch, TaskStatus

GOV, ALICE, BOB, SETTLER = (dev_account(i) for i in range(4))
MIN = ETHER // 10
COOLDOWN = 3600
FEE = ETHER // 1000


@pytest.fixture
def ledger() -> MemoryLedger:
    led = MemoryLedger(MemoryParams(cooldown=COOLDOWN), governance=GOV.address, domains=("general",))
    for a in (GOV, ALICE, BOB, SETTLER):
        led.fund(a.address, 10 * ETHER)
    return led


def respondent(ledger: MemoryLedger, account: LocalAccount, stake: int = MIN) -> Wallet:
    profile = ProviderProfile(endpoint="http://127.0.0.1:9001", domains=("general",), model_id="m")
    ledger.register_provider(profile, stake, account)
    return Wallet(ledger, account)


def validator(ledger: MemoryLedger, account: LocalAccount, stake: int = MIN) -> Wallet:
    ledger.register_validator("http://127.0.0.1:9101", "judge", ZERO_HASH, stake, account)
    return Wallet(ledger, account)


@pytest.mark.parametrize("role", ["respondent", "validator"])
def test_stake_is_added_unstaked_and_withdrawn_after_the_cooldown(ledger: MemoryLedger, role: Role) -> None:
    wallet = (respondent if role == "respondent" else validator)(ledger, ALICE)
    before = ledger.balance_of(ALICE.address)
    added = wallet.add_stake(role, MIN)
    assert "0.2 ETH staked" in added.done and added.tx_hash.startswith("0x")
    wallet.unstake(role, MIN)
    p = wallet.position(role)
    assert (p.stake, p.unstaking) == (MIN, MIN)
    with pytest.raises(CooldownActive, match=r"becomes withdrawable in (59|60) min") as info:
        wallet.withdraw_stake(role)
    assert info.value.reason == "cooldown not over"
    ledger.advance(COOLDOWN)
    done = wallet.withdraw_stake(role)
    assert "withdrew 0.1 ETH" in done.done
    assert ledger.balance_of(ALICE.address) == before  # the stake added came back
    with pytest.raises(NothingToWithdraw, match=r"no .* stake is unstaking"):
        wallet.withdraw_stake(role)


def test_the_role_is_the_one_the_account_holds_or_must_be_named(ledger: MemoryLedger) -> None:
    assert respondent(ledger, ALICE).role(None) == "respondent"
    assert validator(ledger, BOB).role(None) == "validator"
    with pytest.raises(UnknownProvider, match=r"not registered in any role .*register it first"):
        Wallet(ledger, SETTLER).role(None)
    validator(ledger, ALICE)
    with pytest.raises(InputError, match="registered as respondent and validator: say which with --as"):
        Wallet(ledger, ALICE).role(None)


@pytest.mark.parametrize(("role", "reason"), [("respondent", "provider not registered"),
                                              ("validator", "validator not registered")])  # fmt: skip
def test_an_account_not_registered_is_told_how_to_register(ledger: MemoryLedger, role: Role, reason: str) -> None:
    with pytest.raises(UnknownProvider, match=f"not a registered {role}.*llmnet serve {role}") as info:
        Wallet(ledger, ALICE).add_stake(role, MIN)
    assert info.value.reason == reason


def test_stake_left_under_the_minimum_is_refused_but_all_may_go(ledger: MemoryLedger) -> None:
    wallet = respondent(ledger, ALICE, 2 * MIN)
    with pytest.raises(
        StakeTooLow, match=r"0.15 ETH leaves 0.05 ETH, under the respondent minimum of 0.1 ETH.*most 0.1"
    ):
        wallet.unstake("respondent", MIN // 2 + MIN)
    with pytest.raises(InsufficientFunds, match=r"0.2 ETH is staked; unstake at most that") as info:
        wallet.unstake("respondent", 3 * MIN)
    assert info.value.reason == "unstake amount exceeds stake"
    wallet.unstake("respondent", None)
    assert wallet.position("respondent").stake == 0


def test_adding_stake_needs_the_money_and_must_reach_the_minimum(ledger: MemoryLedger) -> None:
    wallet = respondent(ledger, ALICE)
    wallet.unstake("respondent", None)
    with pytest.raises(StakeTooLow, match=r"add at least 0.1 ETH"):
        wallet.add_stake("respondent", MIN // 2)
    with pytest.raises(InsufficientFunds, match=r"holds 9.9 ETH and this sends 20 ETH plus gas; fund the account"):
        wallet.add_stake("respondent", 200 * MIN)
    with pytest.raises(InputError, match="must be a positive amount of wei, got 0"):
        wallet.add_stake("respondent", 0)


def test_credits_are_withdrawn_once(ledger: MemoryLedger) -> None:
    wallet = Wallet(ledger, BOB)
    with pytest.raises(NothingToWithdraw, match="has earned no credits yet"):
        wallet.withdraw_credits()
    task = open_task(ledger, deadline_in=100)
    ledger.set_settler(SETTLER.address, True, GOV)
    ledger.settle_batch(SettlementBatch((task,), (Payout(BOB.address, FEE),), (), ZERO_HASH), SETTLER)
    before = ledger.balance_of(BOB.address)
    assert "withdrew 0.001 ETH of credits" in wallet.withdraw_credits().done
    assert ledger.balance_of(BOB.address) == before + FEE and ledger.credits_of(BOB.address) == 0


def open_task(ledger: MemoryLedger, deadline_in: int) -> int:
    receipt = ledger.open_task("general", "0x" + "11" * 32, 1, ledger.pending_time() + deadline_in, FEE, ALICE)
    assert receipt.value is not None
    return receipt.value


def test_a_requester_deposits_approves_and_withdraws(ledger: MemoryLedger) -> None:
    wallet = Wallet(ledger, ALICE)
    assert "0.2 ETH deposited" in wallet.deposit(2 * MIN).done
    assert BOB.address in wallet.approve(BOB.address.lower(), MIN).done
    assert ledger.allowance(ALICE.address, BOB.address) == MIN
    with pytest.raises(InsufficientFunds, match=r"0.2 ETH is deposited; withdraw at most that") as info:
        wallet.withdraw_deposit(3 * MIN)
    assert info.value.reason == "amount exceeds deposit"
    assert "(0.1 ETH stays)" in wallet.withdraw_deposit(MIN).done
    wallet.withdraw_deposit(None)
    with pytest.raises(NothingToWithdraw, match="nothing deposited"):
        wallet.withdraw_deposit(None)
    with pytest.raises(InputError, match="is not an Ethereum address"):
        wallet.approve("0x1234", MIN)  # the message names the value


def test_an_expired_task_is_refunded_to_its_requester_once(ledger: MemoryLedger) -> None:
    task = open_task(ledger, deadline_in=100)
    anyone = Wallet(ledger, BOB)
    with pytest.raises(DeadlineNotReached, match=r"refund it in 1 min 4\d s"):
        anyone.refund(task)
    ledger.advance(100)
    assert f"{ALICE.address}'s deposit" in anyone.refund(task).done
    assert ledger.deposit_of(ALICE.address) == FEE and ledger.get_task(task).status == TaskStatus.REFUNDED
    with pytest.raises(AlreadyRefunded):
        anyone.refund(task)


def test_a_settled_task_is_not_refunded(ledger: MemoryLedger) -> None:
    task = open_task(ledger, deadline_in=100)
    ledger.set_settler(SETTLER.address, True, GOV)
    ledger.settle_batch(SettlementBatch((task,), (Payout(BOB.address, FEE),), (), ZERO_HASH), SETTLER)
    ledger.advance(200)
    with pytest.raises(AlreadySettled, match="its fee went to its answerers"):
        Wallet(ledger, ALICE).refund(task)


def test_durations_read_as_people_say_them() -> None:
    assert [duration(s) for s in (0, 45, 200, 3600, 86_399)] == ["0 s", "45 s", "3 min 20 s", "1 h 00 min",
                                                                 "23 h 59 min"]  # fmt: skip


def test_a_coordinator_stakes_in_the_validator_book_and_is_told_it_gets_no_work_while_unstaking(
    ledger: MemoryLedger,
) -> None:
    ledger.register_coordinator("http://127.0.0.1:8300", 2 * MIN, BOB)
    wallet = Wallet(ledger, BOB)
    assert wallet.role(None) == "coordinator"
    assert "0.3 ETH staked" in wallet.add_stake("coordinator", MIN).done
    done = wallet.unstake("coordinator", MIN).done
    assert "0.2 ETH stays staked" in done and "take no work from it until it is withdrawn" in done
    with pytest.raises(CooldownActive):
        wallet.withdraw_stake("coordinator")
    ledger.advance(COOLDOWN)
    assert "withdrew 0.1 ETH of coordinator stake" in wallet.withdraw_stake("coordinator").done
    with pytest.raises(NothingToWithdraw) as info:
        wallet.withdraw_stake("coordinator")
    assert info.value.reason == "nothing is unstaking"
