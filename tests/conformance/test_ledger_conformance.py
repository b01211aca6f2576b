"""One suite every Ledger passes: the in-memory ledger and the Web3Ledger on a real anvil node.

Each test runs against both, so the simulation's ledger keeps the contracts' semantics: the same
state after the same writes, the same typed error and revert string for a refused write, and a
refused write that changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.ledger import Ledger
from llmnet.chain.memory_ledger import MemoryLedger, MemoryParams
from llmnet.chain.merkle import MerkleTree
from llmnet.chain.provenance import VersionProvenance
from llmnet.errors import (
    AlreadyExists,
    AlreadySettled,
    ContractRevert,
    CooldownActive,
    DeadlineNotReached,
    InputError,
    InsufficientFunds,
    NotAuthorized,
    NothingToWithdraw,
    PayoutMismatch,
    StakeTooLow,
    UnknownDomain,
    UnknownProvider,
    UnknownTask,
)
from llmnet.reputation.beta import RepState, aggregate, apply_update, decay_from_float
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement
from llmnet.types import ETHER, ZERO_HASH, DomainCard, Payout, ProviderProfile, SettlementBatch, TaskStatus
from tests.conftest import TEST_DOMAINS, TEST_PARAMS, advance_time

FEE = ETHER // 1000
HOUR = 3600


@dataclass
class World:
    ledger: Ledger
    governance: LocalAccount
    accounts: list[LocalAccount]
    advance: Callable[[int], None]

    @property
    def providers(self) -> list[LocalAccount]:
        return self.accounts[:3]

    @property
    def requester(self) -> LocalAccount:
        return self.accounts[3]

    @property
    def coordinator(self) -> LocalAccount:
        return self.accounts[4]

    @property
    def settler(self) -> LocalAccount:
        return self.accounts[5]

    @property
    def validator(self) -> LocalAccount:
        return self.accounts[6]


def _memory_world(governance: LocalAccount, accounts: list[LocalAccount]) -> World:
    params = MemoryParams(
        min_stake=TEST_PARAMS.min_stake, cooldown=TEST_PARAMS.cooldown, decay=decay_from_float(TEST_PARAMS.decay)
    )
    ledger = MemoryLedger(params, governance=governance.address, domains=TEST_DOMAINS)
    for a in [governance, *accounts]:
        ledger.fund(a.address, 10_000 * ETHER)
    return World(ledger, governance, accounts, ledger.advance)


@pytest.fixture(params=["memory", pytest.param("anvil", marks=pytest.mark.integration)])
def world(request: pytest.FixtureRequest, governance: LocalAccount, accounts: list[LocalAccount]) -> World:
    if request.param == "memory":
        return _memory_world(governance, accounts)
    ledger = request.getfixturevalue("ledger")
    return World(ledger, governance, accounts, lambda seconds: advance_time(ledger.w3, seconds))


def observable(w: World) -> tuple[object, ...]:
    """What the suite can see of a ledger's state, for 'a refused write changes nothing'."""
    led, everyone = w.ledger, [a.address for a in w.accounts]
    reps = [led.reputation(p, d) for p in everyone for d in TEST_DOMAINS]
    money = [(led.deposit_of(a), led.credits_of(a), led.allowance(a, w.coordinator.address)) for a in everyone]
    tasks = [led.get_task(t) for t in range(led.task_count())]
    versions = [(v, led.provenance(v)) for a in everyone for v in led.versions_of(a)]
    return (led.domains(), led.domain_cards(), led.providers(), reps, money, tasks, led.batch_count(),
            led.validators(), led.coordinators(), led.settlers(), versions)  # fmt: skip


@contextmanager
def refused(w: World, error: type[Exception], reason: str) -> Iterator[None]:
    before = observable(w)
    with pytest.raises(error) as info:
        yield
    assert type(info.value) is error
    assert isinstance(info.value, ContractRevert) and info.value.reason == reason
    assert observable(w) == before


def profile(domains: tuple[str, ...] = ("general",), n: int = 0) -> ProviderProfile:
    return ProviderProfile(endpoint=f"http://127.0.0.1:{9000 + n}", domains=domains, model_id=f"model-{n}")


def register_all(w: World, domains: tuple[str, ...] = ("general", "medicine")) -> None:
    for i, p in enumerate(w.providers):
        w.ledger.register_provider(profile(domains, i), w.ledger.min_stake + i, p)


def content(i: int) -> str:
    return "0x" + f"{i + 1:064x}"


def open_from_deposit(w: World, fees: list[int], domain: str = "general") -> list[int]:
    led = w.ledger
    led.deposit(sum(fees), w.requester)
    led.approve(w.coordinator.address, sum(fees), w.requester)
    hashes = [content(led.task_count() + i) for i in range(len(fees))]
    deadline = led.pending_time() + HOUR
    first = led.open_tasks(w.requester.address, domain, hashes, fees, 2, deadline, w.coordinator).value
    assert first is not None
    return list(range(first, first + len(fees)))


def outcome(w: World, task_id: int, scores: dict[str, float]) -> TaskOutcome:
    return TaskOutcome(
        task_id=task_id, domain="general", fee=FEE, requester=w.requester.address, coordinator=w.coordinator.address,
        scores=scores, validators=(w.validator.address,), receipt_hash=content(1000 + task_id),
    )  # fmt: skip


# ------------------------------------------------------------------ domains and providers


def test_domains_are_added_by_governance_only(world: World) -> None:
    led = world.ledger
    assert led.domains() == list(TEST_DOMAINS)
    with refused(world, NotAuthorized, "only governance may do this"):
        led.add_domain("code", world.accounts[0])
    with refused(world, AlreadyExists, "domain already exists"):
        led.add_domain("law", world.governance)
    led.add_domain("code", world.governance)
    assert led.domains() == [*TEST_DOMAINS, "code"]
    assert led.candidates("code") == []


CARD = DomainCard(
    "law", "Courts, contracts and legal deadlines.", "0x" + "c0" * 32, "http://127.0.0.1:8403/v1/corpus/x"
)


def test_every_domain_starts_with_an_empty_card(world: World) -> None:
    assert world.ledger.domain_cards() == [DomainCard(d) for d in TEST_DOMAINS]


def test_domain_cards_are_set_by_governance_only(world: World) -> None:
    led = world.ledger
    with refused(world, NotAuthorized, "only governance may do this"):
        led.set_domain_card(CARD, world.accounts[0])
    with refused(world, UnknownDomain, "unknown domain"):
        led.set_domain_card(DomainCard("astrology", "Stars and fate."), world.governance)
    led.set_domain_card(CARD, world.governance)
    cards = {c.domain: c for c in led.domain_cards()}
    assert cards["law"] == CARD and cards["general"] == DomainCard("general")
    assert [c.domain for c in led.domain_cards()] == list(TEST_DOMAINS)


def test_a_domain_card_is_replaced_and_can_be_cleared(world: World) -> None:
    led = world.ledger
    led.set_domain_card(CARD, world.governance)
    described = DomainCard("law", "Only a description, no corpus.")
    led.set_domain_card(described, world.governance)
    assert {c.domain: c for c in led.domain_cards()}["law"] == described
    led.add_domain("code", world.governance)
    assert led.domain_cards()[-1] == DomainCard("code")


def test_register_provider_needs_the_minimum_stake(world: World) -> None:
    led, alice = world.ledger, world.providers[0]
    with refused(world, StakeTooLow, "stake below the minimum"):
        led.register_provider(profile(), led.min_stake - 1, alice)
    with pytest.raises(UnknownDomain):
        led.register_provider(profile(("astrology",)), led.min_stake, alice)
    assert not led.is_registered(alice.address)
    led.register_provider(profile(("general", "law")), led.min_stake, alice)
    info = led.get_provider(alice.address)
    assert (info.stake, info.profile.domains, info.profile.model_id) == (led.min_stake, ("general", "law"), "model-0")
    with refused(world, AlreadyExists, "provider already registered"):
        led.register_provider(profile(), led.min_stake, alice)
    with pytest.raises(UnknownProvider):
        led.get_provider(world.providers[1].address)


def test_candidates_list_members_with_stake_and_reputation(world: World) -> None:
    register_all(world)
    led = world.ledger
    cands = led.candidates("medicine")
    assert [c.provider for c in cands] == [p.address for p in world.providers]
    assert [c.stake for c in cands] == [led.min_stake + i for i in range(3)]
    assert all(c.reputation == RepState() for c in cands)
    assert led.candidates("law") == []
    assert [p.address for p in led.providers("general")] == [p.address for p in world.providers]
    led.update_provider(profile(("law",), 0), world.providers[0])  # leaves general and medicine
    assert {c.provider for c in led.candidates("general")} == {p.address for p in world.providers[1:]}
    assert [c.provider for c in led.candidates("law")] == [world.providers[0].address]


# ------------------------------------------------------------------ escrow


def test_open_tasks_from_a_deposit_within_the_allowance(world: World) -> None:
    led = world.ledger
    ids = open_from_deposit(world, [FEE, 2 * FEE])
    assert led.task_count() == 2 and ids == [0, 1]
    task = led.get_task(1)
    assert (task.requester, task.domain, task.fee, task.n_respondents, task.status) == (
        world.requester.address, "general", 2 * FEE, 2, TaskStatus.OPEN,
    )  # fmt: skip
    assert led.deposit_of(world.requester.address) == 0
    assert led.allowance(world.requester.address, world.coordinator.address) == 0
    led.deposit(FEE, world.requester)
    deadline = led.pending_time() + HOUR
    with refused(world, InsufficientFunds, "fees exceed the caller's allowance"):
        led.open_tasks(world.requester.address, "general", [content(9)], [FEE], 2, deadline, world.coordinator)
    with refused(world, InsufficientFunds, "fees exceed the requester's deposit"):
        led.open_tasks(world.requester.address, "general", [content(9)], [2 * FEE], 2, deadline, world.requester)
    with pytest.raises(UnknownTask):
        led.get_task(5)


def test_refund_only_after_the_deadline(world: World) -> None:
    led = world.ledger
    (task_id,) = open_from_deposit(world, [FEE])
    with refused(world, DeadlineNotReached, "deadline not reached"):
        led.refund(task_id, world.requester)
    world.advance(HOUR + 5)
    led.refund(task_id, world.requester)
    assert led.get_task(task_id).status == TaskStatus.REFUNDED
    assert led.deposit_of(world.requester.address) == FEE


# ------------------------------------------------------------------ settlement and reputation


def test_settle_batch_pays_credits_and_updates_reputation(world: World) -> None:
    led, (a, b, _) = world.ledger, world.providers
    register_all(world)
    led.set_settler(world.settler.address, True, world.governance)
    ids = open_from_deposit(world, [FEE] * 3)
    outcomes = [outcome(world, t, {a.address: 1.0, b.address: s}) for t, s in zip(ids, (0.0, 0.5, 0.25), strict=True)]
    batch = plan_settlement(outcomes, FeeSplit(), led.decay)
    assert led.settle_batch(batch, world.settler).value == 0
    for p in batch.payouts:
        assert led.credits_of(p.payee) == p.amount
    assert sum(led.credits_of(x.address) for x in world.accounts) == 3 * FEE
    expected_b = apply_update(RepState(), aggregate([0.0, 0.5, 0.25], led.decay), led.decay, 0)
    got_b = led.reputation(b.address, "general")
    assert (got_b.alpha, got_b.beta, got_b.count) == (expected_b.alpha, expected_b.beta, 3)
    assert led.reputation(b.address, "medicine") == RepState()
    assert led.get_task(ids[0]).status == TaskStatus.SETTLED
    info = led.get_batch(0)
    assert (info.task_count, info.total_fees, info.receipts_root) == (3, 3 * FEE, batch.receipts_root)
    tree = MerkleTree([content(1000 + t) for t in ids])
    assert led.verify_receipt(0, content(1001), tree.proof(1))
    assert not led.verify_receipt(0, content(77), tree.proof(1))


def test_a_second_batch_decays_the_earlier_evidence(world: World) -> None:
    led, a = world.ledger, world.providers[0]
    register_all(world)
    led.set_settler(world.settler.address, True, world.governance)
    first, second = open_from_deposit(world, [FEE]), open_from_deposit(world, [FEE, FEE])
    led.settle_batch(
        plan_settlement([outcome(world, first[0], {a.address: 1.0})], FeeSplit(), led.decay), world.settler
    )
    outs = [outcome(world, t, {a.address: 0.0}) for t in second]
    led.settle_batch(plan_settlement(outs, FeeSplit(), led.decay), world.settler)
    state = led.reputation(a.address, "general")
    # one success decayed twice (0.9 ** 2), two failures with the older one decayed once
    assert (state.alpha, state.beta, state.count) == (810_000_000, 1_900_000_000, 3)
    assert led.candidates("general")[0].reputation == state


def test_refused_settlements_change_nothing(world: World) -> None:
    led, a = world.ledger, world.providers[0]
    register_all(world)
    led.set_settler(world.settler.address, True, world.governance)
    ids = open_from_deposit(world, [FEE, FEE])
    batch = plan_settlement([outcome(world, t, {a.address: 1.0}) for t in ids], FeeSplit(), led.decay)
    with refused(world, NotAuthorized, "only an authorised settler may settle"):
        led.settle_batch(batch, world.coordinator)
    short = SettlementBatch(batch.task_ids, (Payout(a.address, FEE),), batch.updates, ZERO_HASH)
    with refused(world, PayoutMismatch, "payouts must equal the batch's escrowed fees"):
        led.settle_batch(short, world.settler)
    with refused(world, UnknownTask, "unknown task"):
        led.settle_batch(SettlementBatch((ids[0], 99), batch.payouts, (), ZERO_HASH), world.settler)
    led.settle_batch(batch, world.settler)
    with refused(world, AlreadySettled, "task already settled"):
        led.settle_batch(batch, world.settler)


def test_credits_are_withdrawn_once(world: World) -> None:
    led, a = world.ledger, world.providers[0]
    register_all(world)
    led.set_settler(world.settler.address, True, world.governance)
    ids = open_from_deposit(world, [FEE])
    led.settle_batch(plan_settlement([outcome(world, ids[0], {a.address: 1.0})], FeeSplit(), led.decay), world.settler)
    assert led.credits_of(a.address) == int(FEE * 0.8)
    led.withdraw_credits(a)
    assert led.credits_of(a.address) == 0
    with refused(world, NothingToWithdraw, "no credits to withdraw"):
        led.withdraw_credits(a)


# ------------------------------------------------------------------ validators


def test_validators_register_with_stake_and_trust_is_recorded_by_settlers(world: World) -> None:
    led, v = world.ledger, world.validator
    with refused(world, StakeTooLow, "stake below the minimum validator stake"):
        led.register_validator("http://127.0.0.1:9", "judge", ZERO_HASH, led.validator_min_stake - 1, v)
    led.register_validator("http://127.0.0.1:9", "judge", ZERO_HASH, led.validator_min_stake, v)
    assert led.is_validator(v.address) and led.get_validator(v.address).trust_ppm == 500_000
    with refused(world, NotAuthorized, "only a settler or governance may record trust"):
        led.set_trust([(v.address, 900_000)], world.coordinator)
    led.set_settler(world.settler.address, True, world.governance)
    led.set_trust([(v.address, 900_000)], world.settler)
    assert [x.trust_ppm for x in led.validators()] == [900_000]


# ------------------------------------------------------------------ members of the validator book


def test_settlers_are_listed_in_the_order_allowed_and_a_revoked_one_is_gone(world: World) -> None:
    led, gov = world.ledger, world.governance
    a, b, c = (x.address for x in world.accounts[5:8])
    for who in (a, b, c):
        led.set_settler(who, True, gov)
    led.set_settler(a, True, gov)  # allowed twice, listed once
    assert led.settlers() == [a, b, c]
    led.set_settler(a, False, gov)  # swap-and-pop: the last takes its place
    assert led.settlers() == [c, b] and not led.is_settler(a)
    led.set_settler(world.accounts[0].address, False, gov)  # never allowed: nothing to revoke
    assert led.settlers() == [c, b]


def test_a_validator_moves_adds_stake_unstakes_and_withdraws(world: World) -> None:
    led, v = world.ledger, world.validator
    stake = led.validator_min_stake
    with refused(world, UnknownProvider, "validator not registered"):
        led.update_validator("http://10.0.0.9:80", "judge", ZERO_HASH, v)
    led.register_validator("http://127.0.0.1:9", "judge", ZERO_HASH, stake, v)
    led.update_validator("http://10.0.0.9:80", "judge-2", "0x" + "ab" * 32, v)
    moved = led.get_validator(v.address)
    assert (moved.endpoint, moved.judge_model_id, moved.judge_weights_hash) == ("http://10.0.0.9:80", "judge-2",
                                                                                "0x" + "ab" * 32)  # fmt: skip
    led.add_validator_stake(stake, v)
    assert led.get_validator(v.address).stake == 2 * stake
    with refused(world, InsufficientFunds, "amount exceeds the stake"):
        led.request_validator_unstake(3 * stake, v)
    led.request_validator_unstake(2 * stake, v)
    leaving = led.get_validator(v.address)
    assert (leaving.stake, leaving.unstaking) == (0, 2 * stake) and not leaving.in_good_standing(stake)
    with refused(world, CooldownActive, "cooldown not over"):
        led.withdraw_validator_stake(v)
    world.advance(TEST_PARAMS.cooldown + 1)
    before = led.balance_of(v.address)
    led.withdraw_validator_stake(v)
    assert led.get_validator(v.address).unstaking == 0 and led.balance_of(v.address) > before
    with refused(world, NothingToWithdraw, "nothing is unstaking"):
        led.withdraw_validator_stake(v)


def test_coordinators_register_with_stake_move_and_leave(world: World) -> None:
    led, c = world.ledger, world.coordinator
    minimum = led.validator_min_stake
    assert led.coordinators() == [] and not led.is_coordinator(c.address)
    with refused(world, StakeTooLow, "stake below the minimum coordinator stake"):
        led.register_coordinator("http://127.0.0.1:8300", minimum - 1, c)
    with refused(world, UnknownProvider, "coordinator not registered"):
        led.get_coordinator(c.address)
    led.register_coordinator("http://127.0.0.1:8300", minimum, c)
    with refused(world, AlreadyExists, "coordinator is already registered"):
        led.register_coordinator("http://127.0.0.1:8300", minimum, c)
    joined = led.get_coordinator(c.address)
    assert (joined.endpoint, joined.stake, joined.unstaking) == ("http://127.0.0.1:8300", minimum, 0)
    assert joined.in_good_standing(minimum) and led.is_coordinator(c.address)
    led.update_coordinator("https://coordinator.example:443", c)
    led.add_coordinator_stake(minimum, c)
    assert [(x.address, x.endpoint, x.stake) for x in led.coordinators()] == [
        (c.address, "https://coordinator.example:443", 2 * minimum)
    ]
    with refused(world, UnknownProvider, "coordinator not registered"):
        led.update_coordinator("http://127.0.0.1:1", world.requester)
    led.request_coordinator_unstake(minimum, c)
    assert not led.get_coordinator(c.address).in_good_standing(minimum)  # leaving: it hands out no more work
    with refused(world, CooldownActive, "cooldown not over"):
        led.withdraw_coordinator_stake(c)
    world.advance(TEST_PARAMS.cooldown + 1)
    led.withdraw_coordinator_stake(c)
    left = led.get_coordinator(c.address)
    assert (left.stake, left.unstaking) == (minimum, 0) and left.in_good_standing(minimum)


# ------------------------------------------------------------------ expert versions


def provenance(w: World, **changes: object) -> VersionProvenance:
    owner, version = w.providers[0], w.providers[1]
    fields: dict[str, object] = {
        "version": version.address, "owner": owner.address, "model_version": "v2", "manifest_hash": content(1),
        "base_hash": content(2), "method": "lora", "dataset_hash": content(3), "rankings": w.coordinator.address,
        "from_block": 5, "to_block": 9, "manifest_url": "http://127.0.0.1:9001/v1/expert",
    }  # fmt: skip
    return VersionProvenance.model_validate(fields | changes)


def test_an_owner_records_a_registered_version_once(world: World) -> None:
    led, owner, version = world.ledger, world.providers[0], world.providers[1]
    with refused(world, UnknownProvider, "provider not registered"):
        led.record_version(provenance(world), owner)
    led.register_provider(profile(n=0), led.min_stake, owner)
    with refused(world, UnknownProvider, "version not registered as a provider"):
        led.record_version(provenance(world), owner)
    led.register_provider(profile(n=1), led.min_stake, version)
    with refused(world, ContractRevert, "a provider cannot be a version of itself"):
        led.record_version(provenance(world, version=owner.address), owner)
    with pytest.raises(InputError, match="sign with the owner's key"):
        led.record_version(provenance(world), version)
    with refused(world, NotAuthorized, "only the owner the version named may record it"):
        led.record_version(provenance(world), owner)  # nobody records another's provider as its version
    with refused(world, UnknownProvider, "provider not registered"):
        led.name_owner(owner.address, world.providers[2])
    led.name_owner(world.providers[2].address, version)
    with refused(world, NotAuthorized, "only the owner the version named may record it"):
        led.record_version(provenance(world), owner)
    led.name_owner(owner.address, version)  # named again: the last one named counts
    assert led.versions_of(owner.address) == []
    led.record_version(provenance(world), owner)
    recorded = led.provenance(version.address)
    assert recorded.model_copy(update={"recorded_at": 0}) == provenance(world)
    assert recorded.recorded_at > 0 and led.versions_of(owner.address) == [version.address]
    with refused(world, AlreadyExists, "version already exists"):
        led.record_version(provenance(world, model_version="v3"), owner)
    with refused(world, AlreadyExists, "version already exists"):
        led.name_owner(world.providers[2].address, version)
    with refused(world, UnknownProvider, "no provenance recorded for this version"):
        led.provenance(owner.address)


def test_a_version_names_its_rankings_with_a_block_range_or_neither(world: World) -> None:
    led, owner = world.ledger, world.providers[0]
    register_all(world)
    for version in world.providers[1:3]:
        led.name_owner(owner.address, version)
    with refused(world, ContractRevert, "manifest hash is empty"):
        led.record_version(provenance(world, manifest_hash=ZERO_HASH), owner)
    with refused(world, ContractRevert, "block range is reversed"):
        led.record_version(provenance(world, from_block=10), owner)
    with refused(world, ContractRevert, "rankings contract and block range go together"):
        led.record_version(provenance(world, rankings="0x" + "00" * 20), owner)
    with refused(world, ContractRevert, "rankings contract and block range go together"):
        led.record_version(provenance(world, from_block=0, to_block=0), owner)
    plain = provenance(world, rankings="0x" + "00" * 20, from_block=0, to_block=0, version=world.providers[2].address)
    led.record_version(plain, owner)
    led.record_version(provenance(world), owner)
    assert led.versions_of(owner.address) == [world.providers[2].address, world.providers[1].address]
    assert not led.provenance(world.providers[2].address).has_rankings
