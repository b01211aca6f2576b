"""TaskEscrow's balances, tasks, batched settlement and receipts on a real anvil node.

Every refused call is checked three ways: the typed llmnet error, the
contract's own revert string in ``err.reason``, and an unchanged chain
(every account's balance, nonce and storage).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from llmnet.chain.artifacts import load_artifact
from llmnet.chain.merkle import MerkleTree, verify_proof
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import (
    AlreadyRefunded,
    AlreadySettled,
    ContractRevert,
    DeadlineNotReached,
    InputError,
    InsufficientFunds,
    NotAuthorized,
    NothingToWithdraw,
    PayoutMismatch,
    UnknownDomain,
    UnknownTask,
)
from llmnet.types import (
    ETHER,
    GWEI,
    ZERO_HASH,
    Payout,
    ProviderProfile,
    SettlementBatch,
    TaskStatus,
    domain_id,
)
from tests.conftest import advance_time
from tests.integration.chain_checks import refused

pytestmark = pytest.mark.integration

FEE = ETHER // 1000
HOUR = 3600
ZERO_ADDRESS = "0x" + "00" * 20


@pytest.fixture
def requester(accounts: list[LocalAccount]) -> LocalAccount:
    return accounts[0]


@pytest.fixture
def coordinator(accounts: list[LocalAccount]) -> LocalAccount:
    return accounts[1]


@pytest.fixture
def stranger(accounts: list[LocalAccount]) -> LocalAccount:
    return accounts[7]


@pytest.fixture
def settler(ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]) -> LocalAccount:
    ledger.set_settler(accounts[8].address, True, governance)
    return accounts[8]


def did(name: str) -> bytes:
    return bytes.fromhex(domain_id(name)[2:])


def content(i: int) -> str:
    return "0x" + f"{i + 1:064x}"


def gas_cost(w3: Web3, tx_hash: str) -> int:
    r = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    return int(r["gasUsed"]) * int(r["effectiveGasPrice"])


def open_one(ledger: Web3Ledger, requester: LocalAccount, fee: int = FEE, *, seconds: int = HOUR) -> int:
    receipt = ledger.open_task("general", content(ledger.task_count()), 3, ledger.now() + seconds, fee, requester)
    assert receipt.value is not None
    return receipt.value


def open_many(ledger: Web3Ledger, requester: LocalAccount, fees: Sequence[int], *, seconds: int = HOUR) -> list[int]:
    """Tasks paid from ``requester``'s deposit (topped up here)."""
    ledger.deposit(sum(fees), requester)
    hashes = [content(i) for i in range(len(fees))]
    first = ledger.open_tasks(requester.address, "general", hashes, fees, 3, ledger.now() + seconds, requester).value
    assert first is not None
    return list(range(first, first + len(fees)))


def pay(task_ids: Sequence[int], *payouts: tuple[str, int], root: str = ZERO_HASH) -> SettlementBatch:
    return SettlementBatch(tuple(task_ids), tuple(Payout(a, x) for a, x in payouts), (), root)


def statuses(ledger: Web3Ledger, task_ids: Sequence[int]) -> list[TaskStatus]:
    return [ledger.get_task(t).status for t in task_ids]


# ------------------------------------------------------------------ deployment and settlers


def test_constructor_checks_the_decay(ledger: Web3Ledger, governance: LocalAccount) -> None:
    artifact = load_artifact("TaskEscrow")
    factory = ledger.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    for decay in (0, 10**18 + 1):
        with refused(ledger, ContractRevert, "decay must be in (0, 1e18]"):
            ledger.tx.send(factory.constructor(ledger.registry.address, decay), governance)


def test_deployment_state(ledger: Web3Ledger, governance: LocalAccount) -> None:
    fns = ledger.escrow.functions
    assert fns.governance().call() == governance.address
    assert fns.registry().call() == ledger.registry.address
    assert ledger.decay == 9 * 10**17
    assert ledger.task_count() == ledger.batch_count() == 0


def test_set_settler(ledger: Web3Ledger, governance: LocalAccount, stranger: LocalAccount) -> None:
    assert not ledger.is_settler(stranger.address)
    with refused(ledger, NotAuthorized, "only governance may do this"):
        ledger.set_settler(stranger.address, True, stranger)
    with refused(ledger, ContractRevert, "settler address is empty"):
        ledger.set_settler(ZERO_ADDRESS, True, governance)
    with refused(ledger, InputError, None):
        ledger.set_settler("0xnope", True, governance)
    ledger.set_settler(stranger.address, True, governance)
    assert ledger.is_settler(stranger.address)
    ledger.set_settler(stranger.address, False, governance)
    assert not ledger.is_settler(stranger.address)


def test_a_revoked_settler_may_not_settle(
    ledger: Web3Ledger, governance: LocalAccount, settler: LocalAccount, requester: LocalAccount
) -> None:
    task = open_one(ledger, requester)
    ledger.set_settler(settler.address, False, governance)
    with refused(ledger, NotAuthorized, "only an authorised settler may settle"):
        ledger.settle_batch(pay([task], (settler.address, FEE)), settler)


# ------------------------------------------------------------------ deposits and allowances


def test_deposit_and_withdraw(ledger: Web3Ledger, w3: Web3, requester: LocalAccount) -> None:
    start = ledger.balance_of(requester.address)
    r1 = ledger.deposit(ETHER, requester)
    assert ledger.deposit_of(requester.address) == ETHER
    assert ledger.balance_of(ledger.escrow.address) == ETHER

    r2 = ledger.withdraw_deposit(ETHER // 4, requester)
    assert ledger.deposit_of(requester.address) == ETHER - ETHER // 4
    assert ledger.balance_of(ledger.escrow.address) == ETHER - ETHER // 4
    spent = gas_cost(w3, r1.tx_hash) + gas_cost(w3, r2.tx_hash)
    assert ledger.balance_of(requester.address) == start - ETHER + ETHER // 4 - spent


def test_deposit_refusals(ledger: Web3Ledger, requester: LocalAccount) -> None:
    with refused(ledger, ContractRevert, "no value sent"):
        ledger.deposit(0, requester)
    with refused(ledger, InputError, None):
        ledger.deposit(-1, requester)


def test_withdraw_deposit_refusals(ledger: Web3Ledger, requester: LocalAccount, stranger: LocalAccount) -> None:
    ledger.deposit(ETHER, requester)
    with refused(ledger, InsufficientFunds, "amount exceeds deposit"):
        ledger.withdraw_deposit(ETHER + 1, requester)
    with refused(ledger, InsufficientFunds, "amount exceeds deposit"):
        ledger.withdraw_deposit(1, stranger)
    with refused(ledger, ContractRevert, "amount must be positive"):
        ledger.withdraw_deposit(0, requester)
    with refused(ledger, InputError, None):
        ledger.withdraw_deposit(-1, requester)


def test_approve_sets_and_overwrites(ledger: Web3Ledger, requester: LocalAccount, coordinator: LocalAccount) -> None:
    assert ledger.allowance(requester.address, coordinator.address) == 0
    ledger.approve(coordinator.address, 5 * FEE, requester)
    assert ledger.allowance(requester.address, coordinator.address) == 5 * FEE
    ledger.approve(coordinator.address, FEE, requester)
    assert ledger.allowance(requester.address, coordinator.address) == FEE
    assert ledger.allowance(coordinator.address, requester.address) == 0


def test_approve_refusals(ledger: Web3Ledger, requester: LocalAccount) -> None:
    with refused(ledger, ContractRevert, "spender address is empty"):
        ledger.approve(ZERO_ADDRESS, FEE, requester)
    with refused(ledger, InputError, None):
        ledger.approve("0x1234", FEE, requester)
    with refused(ledger, InputError, None):
        ledger.approve(requester.address, -1, requester)


def test_a_spender_opens_tasks_within_its_allowance(
    ledger: Web3Ledger, requester: LocalAccount, coordinator: LocalAccount
) -> None:
    ledger.deposit(ETHER, requester)
    ledger.approve(coordinator.address, 3 * FEE, requester)
    deadline = ledger.now() + HOUR
    receipt = ledger.open_tasks(
        requester.address, "law", [content(0), content(1)], [FEE, FEE], 2, deadline, coordinator
    )
    assert receipt.value == 0
    assert ledger.allowance(requester.address, coordinator.address) == FEE
    assert ledger.deposit_of(requester.address) == ETHER - 2 * FEE
    assert ledger.deposit_of(coordinator.address) == 0
    assert ledger.task_count() == 2
    for task_id in (0, 1):
        task = ledger.get_task(task_id)
        assert (task.requester, task.domain, task.fee) == (requester.address, "law", FEE)
        assert (task.deadline, task.n_respondents, task.status) == (deadline, 2, TaskStatus.OPEN)
    # the requester itself needs no allowance
    ledger.open_tasks(requester.address, "law", [content(2)], [4 * FEE], 2, deadline, requester)
    assert ledger.allowance(requester.address, coordinator.address) == FEE
    assert ledger.deposit_of(requester.address) == ETHER - 6 * FEE


def test_a_spender_over_its_allowance_is_refused(
    ledger: Web3Ledger, requester: LocalAccount, coordinator: LocalAccount, stranger: LocalAccount
) -> None:
    ledger.deposit(ETHER, requester)
    ledger.approve(coordinator.address, 2 * FEE, requester)
    deadline = ledger.now() + HOUR
    hashes = [content(0), content(1)]
    with refused(ledger, InsufficientFunds, "fees exceed the caller's allowance"):
        ledger.open_tasks(requester.address, "general", hashes, [FEE, FEE + GWEI], 1, deadline, coordinator)
    with refused(ledger, InsufficientFunds, "fees exceed the caller's allowance"):
        ledger.open_tasks(requester.address, "general", hashes, [FEE, FEE], 1, deadline, stranger)


def test_fees_beyond_the_deposit_are_refused(
    ledger: Web3Ledger, requester: LocalAccount, coordinator: LocalAccount
) -> None:
    ledger.deposit(2 * FEE, requester)
    ledger.approve(coordinator.address, ETHER, requester)
    deadline = ledger.now() + HOUR
    hashes = [content(0), content(1), content(2)]
    for sender in (requester, coordinator):
        with refused(ledger, InsufficientFunds, "fees exceed the requester's deposit"):
            ledger.open_tasks(requester.address, "general", hashes, [FEE] * 3, 1, deadline, sender)


# ------------------------------------------------------------------ open_task


def test_open_task(ledger: Web3Ledger, w3: Web3, requester: LocalAccount) -> None:
    start = ledger.balance_of(requester.address)
    deadline = ledger.now() + HOUR
    first = ledger.open_task("medicine", content(0), 5, deadline, FEE, requester)
    second = ledger.open_task("law", content(1), 1, deadline + 1, 2 * FEE, requester)
    assert (first.value, second.value) == (0, 1)
    assert ledger.task_count() == 2
    task = ledger.get_task(0)
    assert (task.task_id, task.requester, task.domain, task.fee) == (0, requester.address, "medicine", FEE)
    assert (task.deadline, task.n_respondents, task.status) == (deadline, 5, TaskStatus.OPEN)
    assert ledger.get_task(1).domain == "law"
    assert ledger.balance_of(ledger.escrow.address) == 3 * FEE
    spent = gas_cost(w3, first.tx_hash) + gas_cost(w3, second.tx_hash)
    assert ledger.balance_of(requester.address) == start - 3 * FEE - spent
    assert ledger.deposit_of(requester.address) == 0  # a fee sent along never touches the deposit


@pytest.mark.parametrize("n", [1, 32])
def test_open_task_accepts_the_respondent_bounds(ledger: Web3Ledger, requester: LocalAccount, n: int) -> None:
    task_id = ledger.open_task("general", content(0), n, ledger.now() + HOUR, FEE, requester).value
    assert task_id is not None
    assert ledger.get_task(task_id).n_respondents == n


def test_open_task_in_an_unknown_domain(ledger: Web3Ledger, requester: LocalAccount) -> None:
    deadline = ledger.now() + HOUR
    with refused(ledger, UnknownDomain, "unknown domain"):  # the client knows the domains
        ledger.open_task("astrology", content(0), 3, deadline, FEE, requester)
    fn = ledger.escrow.functions.open_task(did("astrology"), bytes(32), 3, deadline)
    with refused(ledger, UnknownDomain, "unknown domain"):
        ledger.tx.send(fn, requester, value=FEE)


@pytest.mark.parametrize(
    ("fee", "n", "seconds", "reason"),
    [
        (FEE + 1, 3, HOUR, "fee must be a whole number of gwei"),
        (GWEI - 1, 3, HOUR, "fee must be a whole number of gwei"),
        (0, 3, HOUR, "fee must be positive"),
        (FEE, 0, HOUR, "n_respondents must be 1..32"),
        (FEE, 33, HOUR, "n_respondents must be 1..32"),
        (FEE, 3, 0, "deadline must be in the future"),
        (FEE, 3, -HOUR, "deadline must be in the future"),
    ],
)
def test_open_task_refusals(
    ledger: Web3Ledger, requester: LocalAccount, fee: int, n: int, seconds: int, reason: str
) -> None:
    with refused(ledger, ContractRevert, reason):
        ledger.open_task("general", content(0), n, ledger.now() + seconds, fee, requester)
    assert ledger.task_count() == 0


def test_open_task_with_a_deadline_beyond_48_bits(ledger: Web3Ledger, requester: LocalAccount) -> None:
    with refused(ledger, ContractRevert, "deadline too large"):
        ledger.open_task("general", content(0), 3, 2**48, FEE, requester)
    task_id = ledger.open_task("general", content(0), 3, 2**48 - 1, FEE, requester).value
    assert task_id is not None
    assert ledger.get_task(task_id).deadline == 2**48 - 1


def test_open_task_with_malformed_input_fails_in_python(ledger: Web3Ledger, requester: LocalAccount) -> None:
    deadline = ledger.now() + HOUR
    with refused(ledger, InputError, None):
        ledger.open_task("general", "0x1234", 3, deadline, FEE, requester)
    with refused(ledger, InputError, None):
        ledger.open_task("general", content(0), 3, deadline, -FEE, requester)


@pytest.mark.parametrize("case", ["negative respondents", "negative deadline", "refund -1", "get_task -1"])
def test_out_of_range_integers_are_input_errors(ledger: Web3Ledger, requester: LocalAccount, case: str) -> None:
    deadline = ledger.now() + HOUR
    calls = {
        "negative respondents": lambda: ledger.open_task("general", content(0), -1, deadline, FEE, requester),
        "negative deadline": lambda: ledger.open_task("general", content(0), 3, -deadline, FEE, requester),
        "refund -1": lambda: ledger.refund(-1, requester),
        "get_task -1": lambda: ledger.get_task(-1),
    }
    with refused(ledger, InputError, None):
        calls[case]()


def test_fees_keep_their_lane(ledger: Web3Ledger, requester: LocalAccount) -> None:
    # four tasks share a storage word; large and odd fees must not bleed into neighbours
    fees = [
        1000 * ETHER + GWEI,
        GWEI,
        7 * GWEI,
        123_456_789 * GWEI,
        2 * GWEI,
        999 * ETHER,
        GWEI,
        5 * FEE,
        3 * GWEI,
    ]
    ids = open_many(ledger, requester, fees)
    assert ids == list(range(9))
    assert [ledger.get_task(t).fee for t in ids] == fees
    assert ledger.deposit_of(requester.address) == 0
    assert ledger.balance_of(ledger.escrow.address) == sum(fees)


# ------------------------------------------------------------------ open_tasks


def test_open_tasks_refusals(ledger: Web3Ledger, requester: LocalAccount) -> None:
    ledger.deposit(ETHER, requester)
    deadline = ledger.now() + HOUR
    a = requester.address
    with refused(ledger, ContractRevert, "content_hashes and fees differ in length"):
        ledger.open_tasks(a, "general", [content(0), content(1)], [FEE], 1, deadline, requester)
    with refused(ledger, ContractRevert, "no tasks given"):
        ledger.open_tasks(a, "general", [], [], 1, deadline, requester)
    with refused(ledger, ContractRevert, "fee must be positive"):  # one bad fee sinks the whole call
        ledger.open_tasks(a, "general", [content(0), content(1)], [FEE, 0], 1, deadline, requester)
    with refused(ledger, ContractRevert, "fee must be a whole number of gwei"):
        ledger.open_tasks(a, "general", [content(0), content(1)], [FEE, FEE + 1], 1, deadline, requester)
    with refused(ledger, ContractRevert, "n_respondents must be 1..32"):
        ledger.open_tasks(a, "general", [content(0)], [FEE], 33, deadline, requester)
    with refused(ledger, ContractRevert, "deadline must be in the future"):
        ledger.open_tasks(a, "general", [content(0)], [FEE], 1, ledger.now(), requester)
    with refused(ledger, UnknownDomain, "unknown domain"):
        fn = ledger.escrow.functions.open_tasks(a, did("astrology"), [bytes(32)], [FEE], 1, deadline)
        ledger.tx.send(fn, requester)
    assert ledger.deposit_of(a) == ETHER


# ------------------------------------------------------------------ refund


def test_refund_after_the_deadline_credits_the_deposit(
    ledger: Web3Ledger, w3: Web3, requester: LocalAccount, stranger: LocalAccount
) -> None:
    kept = open_one(ledger, requester, 5 * FEE, seconds=10 * HOUR)
    task = open_one(ledger, requester, 2 * FEE)
    advance_time(w3, HOUR + 1)
    ledger.refund(task, stranger)  # anyone may trigger it; the money goes to the requester's deposit
    assert ledger.get_task(task).status is TaskStatus.REFUNDED
    assert ledger.get_task(task).fee == 2 * FEE
    assert ledger.deposit_of(requester.address) == 2 * FEE
    assert ledger.deposit_of(stranger.address) == 0
    assert ledger.get_task(kept).status is TaskStatus.OPEN
    assert ledger.balance_of(ledger.escrow.address) == 7 * FEE
    ledger.withdraw_deposit(2 * FEE, requester)
    assert ledger.balance_of(ledger.escrow.address) == 5 * FEE


def test_refund_refusals(ledger: Web3Ledger, w3: Web3, requester: LocalAccount, settler: LocalAccount) -> None:
    task = open_one(ledger, requester)
    with refused(ledger, DeadlineNotReached, "deadline not reached"):
        ledger.refund(task, requester)
    advance_time(w3, HOUR - 10)
    with refused(ledger, DeadlineNotReached, "deadline not reached"):
        ledger.refund(task, requester)
    with refused(ledger, UnknownTask, "unknown task"):
        ledger.refund(task + 1, requester)

    advance_time(w3, 20)
    ledger.refund(task, requester)
    with refused(ledger, AlreadyRefunded, "task already refunded"):
        ledger.refund(task, requester)
    with refused(ledger, AlreadyRefunded, "task already refunded"):
        ledger.settle_batch(pay([task], (settler.address, FEE)), settler)


def test_a_settled_task_cannot_be_refunded(
    ledger: Web3Ledger, w3: Web3, requester: LocalAccount, settler: LocalAccount
) -> None:
    task = open_one(ledger, requester)
    ledger.settle_batch(pay([task], (settler.address, FEE)), settler)
    advance_time(w3, HOUR + 1)
    with refused(ledger, AlreadySettled, "task already settled"):
        ledger.refund(task, requester)


def test_an_expired_task_can_still_be_settled_until_refunded(
    ledger: Web3Ledger, w3: Web3, requester: LocalAccount, settler: LocalAccount
) -> None:
    task = open_one(ledger, requester)
    advance_time(w3, 2 * HOUR)
    ledger.settle_batch(pay([task], (settler.address, FEE)), settler)
    assert ledger.get_task(task).status is TaskStatus.SETTLED


# ------------------------------------------------------------------ settle_batch


def test_settle_batch_pays_credits_and_records_the_batch(
    ledger: Web3Ledger, w3: Web3, requester: LocalAccount, settler: LocalAccount, accounts: list[LocalAccount]
) -> None:
    ids = open_many(ledger, requester, [FEE, 2 * FEE, 3 * FEE])
    r1, r2 = accounts[2], accounts[3]
    escrow_balance = ledger.balance_of(ledger.escrow.address)
    root = "0x" + "5a" * 32
    batch = pay(
        ids,
        (r1.address, 4 * FEE),
        (r2.address, FEE),
        (r1.address, FEE - GWEI),
        (settler.address, GWEI),
        root=root,
    )
    receipt = ledger.settle_batch(batch, settler)

    assert receipt.value == 0
    assert ledger.batch_count() == 1
    assert statuses(ledger, ids) == [TaskStatus.SETTLED] * 3
    assert ledger.credits_of(r1.address) == 5 * FEE - GWEI  # a payee listed twice is paid twice
    assert ledger.credits_of(r2.address) == FEE
    assert ledger.credits_of(settler.address) == GWEI
    assert ledger.balance_of(ledger.escrow.address) == escrow_balance  # credits stay until withdrawn
    info = ledger.get_batch(0)
    assert (info.batch_id, info.receipts_root, info.task_count, info.total_fees) == (0, root, 3, 6 * FEE)
    assert info.settled_at == w3.eth.get_block(receipt.block_number)["timestamp"]

    second = ledger.settle_batch(pay([open_one(ledger, requester)], (r2.address, FEE)), settler)
    assert second.value == 1
    assert ledger.batch_count() == 2
    assert ledger.get_batch(1).receipts_root == ZERO_HASH
    assert ledger.get_batch(1).task_count == 1
    assert ledger.get_batch(0).receipts_root == root


def test_settle_batch_with_zero_payouts_and_a_large_batch(
    ledger: Web3Ledger, requester: LocalAccount, settler: LocalAccount, accounts: list[LocalAccount]
) -> None:
    ids = open_many(ledger, requester, [GWEI * (i + 1) for i in range(60)])
    total = sum(GWEI * (i + 1) for i in range(60))
    ledger.settle_batch(pay(ids, (accounts[2].address, 0), (accounts[3].address, total)), settler)
    assert ledger.get_batch(0).task_count == 60
    assert ledger.get_batch(0).total_fees == total
    assert ledger.credits_of(accounts[3].address) == total
    assert ledger.credits_of(accounts[2].address) == 0


def test_settle_batch_by_a_stranger_is_refused(
    ledger: Web3Ledger, requester: LocalAccount, stranger: LocalAccount, settler: LocalAccount
) -> None:
    task = open_one(ledger, requester)
    with refused(ledger, NotAuthorized, "only an authorised settler may settle"):
        ledger.settle_batch(pay([task], (stranger.address, FEE)), stranger)
    with refused(ledger, NotAuthorized, "only an authorised settler may settle"):
        ledger.settle_batch(pay([task], (requester.address, FEE)), requester)
    assert ledger.get_task(task).status is TaskStatus.OPEN


def test_double_settlement_is_refused(
    ledger: Web3Ledger, requester: LocalAccount, settler: LocalAccount, accounts: list[LocalAccount]
) -> None:
    first, second = open_one(ledger, requester), open_one(ledger, requester)
    ledger.settle_batch(pay([first], (accounts[2].address, FEE)), settler)
    with refused(ledger, AlreadySettled, "task already settled"):
        ledger.settle_batch(pay([first], (accounts[2].address, FEE)), settler)
    # a batch mixing a settled task with a new one reverts whole: the new one stays open
    with refused(ledger, AlreadySettled, "task already settled"):
        ledger.settle_batch(pay([second, first], (accounts[2].address, 2 * FEE)), settler)
    with refused(ledger, AlreadySettled, "task already settled"):
        ledger.settle_batch(pay([second, second], (accounts[2].address, 2 * FEE)), settler)
    assert ledger.get_task(second).status is TaskStatus.OPEN
    assert ledger.batch_count() == 1
    assert ledger.credits_of(accounts[2].address) == FEE


@pytest.mark.parametrize("paid", [0, 2 * FEE - 1, 2 * FEE + 1, 3 * FEE])
def test_payouts_must_equal_the_fees(
    ledger: Web3Ledger,
    requester: LocalAccount,
    settler: LocalAccount,
    accounts: list[LocalAccount],
    paid: int,
) -> None:
    ids = [open_one(ledger, requester), open_one(ledger, requester)]
    with refused(ledger, PayoutMismatch, "payouts must equal the batch's escrowed fees"):
        ledger.settle_batch(pay(ids, (accounts[2].address, paid)), settler)


def test_a_batch_without_payouts_is_refused(ledger: Web3Ledger, requester: LocalAccount, settler: LocalAccount) -> None:
    task = open_one(ledger, requester)
    with refused(ledger, PayoutMismatch, "payouts must equal the batch's escrowed fees"):
        ledger.settle_batch(pay([task]), settler)


def test_settle_batch_refusals(
    ledger: Web3Ledger, requester: LocalAccount, settler: LocalAccount, accounts: list[LocalAccount]
) -> None:
    task = open_one(ledger, requester)
    with refused(ledger, UnknownTask, "unknown task"):
        ledger.settle_batch(pay([task, task + 1], (accounts[2].address, FEE)), settler)
    with refused(ledger, UnknownTask, "unknown task"):
        ledger.settle_batch(pay([task + 4], (accounts[2].address, 0)), settler)  # a lane in an empty word
    with refused(ledger, ContractRevert, "empty batch"):
        ledger.settle_batch(pay([]), settler)
    with refused(ledger, ContractRevert, "payout to the empty address"):
        ledger.settle_batch(pay([task], (ZERO_ADDRESS, FEE)), settler)
    with refused(ledger, InputError, None):
        ledger.settle_batch(pay([task], ("0xbad", FEE)), settler)
    with refused(ledger, InputError, None):
        ledger.settle_batch(pay([task], (accounts[2].address, FEE), root="0x12"), settler)
    assert ledger.get_task(task).status is TaskStatus.OPEN


def test_settling_some_lanes_leaves_their_neighbours_alone(
    ledger: Web3Ledger, w3: Web3, requester: LocalAccount, settler: LocalAccount, accounts: list[LocalAccount]
) -> None:
    fees = [(i + 1) * GWEI for i in range(8)]  # tasks 0-3 share one word, 4-7 the next
    ids = open_many(ledger, requester, fees)
    ledger.settle_batch(pay([6, 1], (accounts[2].address, fees[6] + fees[1])), settler)
    advance_time(w3, HOUR + 1)
    ledger.refund(2, requester)
    ledger.refund(7, requester)
    assert statuses(ledger, ids) == [
        TaskStatus.OPEN,
        TaskStatus.SETTLED,
        TaskStatus.REFUNDED,
        TaskStatus.OPEN,
        TaskStatus.OPEN,
        TaskStatus.OPEN,
        TaskStatus.SETTLED,
        TaskStatus.REFUNDED,
    ]
    assert [ledger.get_task(t).fee for t in ids] == fees
    assert ledger.deposit_of(requester.address) == fees[2] + fees[7]
    ledger.settle_batch(pay([0, 3, 4, 5], (accounts[2].address, fees[0] + fees[3] + fees[4] + fees[5])), settler)
    assert ledger.credits_of(accounts[2].address) == sum(fees) - fees[2] - fees[7]


# ------------------------------------------------------------------ credits


def test_withdraw_credits(
    ledger: Web3Ledger, w3: Web3, requester: LocalAccount, settler: LocalAccount, accounts: list[LocalAccount]
) -> None:
    payee = accounts[2]
    with refused(ledger, NothingToWithdraw, "no credits to withdraw"):
        ledger.withdraw_credits(payee)
    ledger.settle_batch(pay([open_one(ledger, requester, 3 * FEE)], (payee.address, 3 * FEE)), settler)
    balance = ledger.balance_of(payee.address)
    receipt = ledger.withdraw_credits(payee)
    assert ledger.balance_of(payee.address) == balance + 3 * FEE - gas_cost(w3, receipt.tx_hash)
    assert ledger.credits_of(payee.address) == 0
    assert ledger.balance_of(ledger.escrow.address) == 0
    with refused(ledger, NothingToWithdraw, "no credits to withdraw"):
        ledger.withdraw_credits(payee)


# ------------------------------------------------------------------ views


def test_get_task_status_transitions(
    ledger: Web3Ledger, w3: Web3, requester: LocalAccount, settler: LocalAccount
) -> None:
    with pytest.raises(UnknownTask) as info:
        ledger.get_task(0)
    assert info.value.reason == "unknown task"
    settled, refunded = open_one(ledger, requester), open_one(ledger, requester)
    assert statuses(ledger, [settled, refunded]) == [TaskStatus.OPEN, TaskStatus.OPEN]
    ledger.settle_batch(pay([settled], (settler.address, FEE)), settler)
    assert statuses(ledger, [settled, refunded]) == [TaskStatus.SETTLED, TaskStatus.OPEN]
    advance_time(w3, HOUR + 1)
    ledger.refund(refunded, requester)
    assert statuses(ledger, [settled, refunded]) == [TaskStatus.SETTLED, TaskStatus.REFUNDED]
    with pytest.raises(UnknownTask):
        ledger.get_task(2)


def test_get_batch_of_an_unknown_batch(ledger: Web3Ledger, requester: LocalAccount, settler: LocalAccount) -> None:
    with pytest.raises(UnknownTask) as info:  # errors.py maps "unknown batch" onto UnknownTask
        ledger.get_batch(0)
    assert info.value.reason == "unknown batch"
    ledger.settle_batch(pay([open_one(ledger, requester)], (settler.address, FEE)), settler)
    assert ledger.get_batch(0).task_count == 1
    with pytest.raises(UnknownTask):
        ledger.get_batch(1)
    with pytest.raises(UnknownTask) as info:
        ledger.verify_receipt(1, content(0), [])
    assert info.value.reason == "unknown batch"


# ------------------------------------------------------------------ receipts


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_verify_receipt_with_real_proofs(
    ledger: Web3Ledger, requester: LocalAccount, settler: LocalAccount, size: int
) -> None:
    receipts = [content(1000 + i) for i in range(size)]
    tree = MerkleTree(receipts)
    # another batch first, so the one under test is not batch 0
    ledger.settle_batch(pay([open_one(ledger, requester)], (settler.address, FEE), root=content(5)), settler)
    batch_id = ledger.settle_batch(pay([open_one(ledger, requester)], (settler.address, FEE), root=tree.root), settler)
    assert batch_id.value == 1
    assert "0x" + ledger.escrow.functions.batch_roots(1).call().hex() == tree.root

    for i, receipt in enumerate(receipts):
        proof = tree.proof(i)
        assert ledger.verify_receipt(1, receipt, proof), i
        assert verify_proof(tree.root, receipt, proof)
    for i in {0, size // 2, size - 1}:
        assert not ledger.verify_receipt(0, receipts[i], tree.proof(i))  # the other batch's root

    outsider = content(99)
    assert not ledger.verify_receipt(1, outsider, tree.proof(0))
    if size > 1:
        assert not ledger.verify_receipt(1, receipts[0], tree.proof(size - 1))  # someone else's proof
        assert not ledger.verify_receipt(1, receipts[0], tree.proof(0)[:-1])  # a truncated proof
        tampered = [("0x" + "00" * 32), *tree.proof(0)[1:]]
        assert not ledger.verify_receipt(1, receipts[0], tampered)
        # the root itself is not a receipt, and an inner node is not a leaf
        assert not ledger.verify_receipt(1, tree.root, [])
    else:
        assert tree.proof(0) == []
        assert not ledger.verify_receipt(1, receipts[0], [content(3)])


def test_a_batch_with_an_empty_root_proves_nothing(
    ledger: Web3Ledger, requester: LocalAccount, settler: LocalAccount
) -> None:
    ledger.settle_batch(pay([open_one(ledger, requester)], (settler.address, FEE)), settler)
    assert ledger.get_batch(0).receipts_root == ZERO_HASH
    assert not ledger.verify_receipt(0, ZERO_HASH, [])
    assert not ledger.verify_receipt(0, content(0), [])


def test_providers_are_not_needed_to_settle(
    ledger: Web3Ledger, requester: LocalAccount, settler: LocalAccount, accounts: list[LocalAccount]
) -> None:
    # payees are any addresses: the escrow never consults the registry when paying
    ledger.register_provider(
        ProviderProfile(endpoint="http://x", domains=("general",), model_id="m"), ETHER // 10, accounts[2]
    )
    ledger.settle_batch(
        pay([open_one(ledger, requester)], (accounts[2].address, FEE // 2), (accounts[3].address, FEE // 2)),
        settler,
    )
    assert ledger.credits_of(accounts[3].address) == FEE // 2
