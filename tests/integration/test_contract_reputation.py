"""The reputation book inside TaskEscrow on a real anvil node: settlement
updates it exactly as ``llmnet.reputation.beta`` computes in Python."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from fractions import Fraction

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.transactions import translate
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ContractRevert, NotAuthorized, UnknownDomain
from llmnet.reputation.beta import (
    DECAY_ONE,
    MAX48,
    MAX80,
    UNIT,
    RepDelta,
    RepState,
    aggregate,
    apply_update,
    score_to_fixed,
)
from llmnet.types import ETHER, GWEI, Payout, ProviderProfile, RepUpdate, SettlementBatch, domain_id
from tests.conftest import TEST_PARAMS
from tests.integration.chain_checks import refused

pytestmark = pytest.mark.integration

MIN_STAKE = TEST_PARAMS.min_stake


@pytest.fixture
def settler(ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]) -> LocalAccount:
    ledger.set_settler(accounts[8].address, True, governance)
    return accounts[8]


@pytest.fixture
def requester(ledger: Web3Ledger, accounts: list[LocalAccount]) -> LocalAccount:
    ledger.deposit(ETHER, accounts[0])
    return accounts[0]


@pytest.fixture
def providers(ledger: Web3Ledger, accounts: list[LocalAccount]) -> list[LocalAccount]:
    """Three providers of general; the first also serves law."""
    domains = [("general", "law"), ("general",), ("general",)]
    for account, doms in zip(accounts[2:5], domains, strict=True):
        ledger.register_provider(profile(*doms), MIN_STAKE, account)
    return accounts[2:5]


def profile(*domains: str) -> ProviderProfile:
    return ProviderProfile(endpoint="http://127.0.0.1:8001", domains=domains, model_id="tiny-llm")


def open_task(ledger: Web3Ledger, requester: LocalAccount) -> int:
    """A task of one gwei paid from the requester's deposit."""
    deadline = ledger.now() + 3600
    task = ledger.open_tasks(requester.address, "general", ["0x" + "11" * 32], [GWEI], 1, deadline, requester)
    assert task.value is not None
    return task.value


def settle(ledger: Web3Ledger, settler: LocalAccount, requester: LocalAccount, updates: Sequence[RepUpdate]) -> int:
    """Settle one fresh task carrying ``updates``; the block timestamp it happened at."""
    batch = SettlementBatch((open_task(ledger, requester),), (Payout(settler.address, GWEI),), tuple(updates))
    receipt = ledger.settle_batch(batch, settler)
    return int(ledger.w3.eth.get_block(receipt.block_number)["timestamp"])


def update(provider: LocalAccount, domain: str, scores: Sequence[float], decay: int) -> RepUpdate:
    return RepUpdate(provider.address, domain, aggregate(scores, decay))


def raw(provider: str, domain: str, delta: RepDelta) -> RepUpdate:
    return RepUpdate(provider, domain, delta)


# ------------------------------------------------------------------ settlement moves reputation


def test_settlement_matches_the_python_rule_bit_for_bit(
    ledger: Web3Ledger, settler: LocalAccount, requester: LocalAccount, providers: list[LocalAccount]
) -> None:
    p = providers[0]
    decay = ledger.decay
    assert decay == 9 * DECAY_ONE // 10
    batches = [[1.0], [0.0, 1.0, 0.5], [0.3] * 5, [0.9, 0.1], [1.0] * 20, [0.0], [0.123456789, 0.987654321]]
    expected = RepState()
    for scores in batches:
        delta = aggregate(scores, decay)
        now = settle(ledger, settler, requester, [raw(p.address, "general", delta)])
        expected = apply_update(expected, delta, decay, now)
        assert ledger.reputation(p.address, "general") == expected, scores
    assert expected.count == sum(len(b) for b in batches)
    assert ledger.reputation(p.address, "law") == RepState()  # reputation is per domain
    row = next(c for c in ledger.candidates("general") if c.provider == p.address)
    assert row.reputation == expected
    assert row.mean == expected.mean()


def test_many_pairs_and_a_repeated_pair_in_one_batch(
    ledger: Web3Ledger, settler: LocalAccount, requester: LocalAccount, providers: list[LocalAccount]
) -> None:
    a, b, _ = providers
    decay = ledger.decay
    updates = [
        update(a, "general", [1.0, 0.5], decay),
        update(b, "general", [0.0], decay),
        update(a, "law", [0.7, 0.7, 0.7], decay),
        update(a, "general", [0.25], decay),  # applied after the first one, in list order
    ]
    now = settle(ledger, settler, requester, updates)
    first = apply_update(RepState(), updates[0].delta, decay, now)
    assert ledger.reputation(a.address, "general") == apply_update(first, updates[3].delta, decay, now)
    assert ledger.reputation(b.address, "general") == apply_update(RepState(), updates[1].delta, decay, now)
    assert ledger.reputation(a.address, "law") == apply_update(RepState(), updates[2].delta, decay, now)


def test_one_aggregated_update_equals_m_sequential_ones_within_m_units(
    ledger: Web3Ledger, settler: LocalAccount, requester: LocalAccount, providers: list[LocalAccount]
) -> None:
    """Every on-chain step floors (state * decay^k // 1e18 and score * decay^k // 1e18), losing less
    than one unit of 1e-9 each time. m sequential single-score batches floor the carried state m
    times; one aggregated update floors once per term. Both therefore sit below the exact value by
    less than m units (fp_pow's own error, ~1e-17 relative on a state under 1e12 units, is far below
    one unit), so they differ by at most m units."""
    one, many, _ = providers
    decay = ledger.decay
    rng = random.Random(11)
    m = 12
    prior = [round(rng.random(), 6) for _ in range(4)]
    scores = [round(rng.random(), 9) for _ in range(m)]

    start = settle(ledger, settler, requester, [update(p, "general", prior, decay) for p in (one, many)])
    state = apply_update(RepState(), aggregate(prior, decay), decay, start)
    assert ledger.reputation(one.address, "general") == ledger.reputation(many.address, "general") == state

    now = settle(ledger, settler, requester, [update(one, "general", scores, decay)])
    aggregated = apply_update(state, aggregate(scores, decay), decay, now)
    sequential = state
    for s in scores:
        now = settle(ledger, settler, requester, [update(many, "general", [s], decay)])
        sequential = apply_update(sequential, aggregate([s], decay), decay, now)
    assert ledger.reputation(one.address, "general") == aggregated
    assert ledger.reputation(many.address, "general") == sequential

    assert aggregated.count == sequential.count == len(prior) + m
    assert abs(aggregated.alpha - sequential.alpha) <= m
    assert abs(aggregated.beta - sequential.beta) <= m
    d = Fraction(decay, DECAY_ONE)
    exact_alpha = state.alpha * d**m + sum(score_to_fixed(s) * d ** (m - 1 - i) for i, s in enumerate(scores))
    exact_beta = state.beta * d**m + sum((UNIT - score_to_fixed(s)) * d ** (m - 1 - i) for i, s in enumerate(scores))
    for got in (aggregated, sequential):
        assert 0 <= exact_alpha - got.alpha < m + 1
        assert 0 <= exact_beta - got.beta < m + 1


def test_the_contract_checks_the_80_and_48_bit_bounds(
    ledger: Web3Ledger, settler: LocalAccount, requester: LocalAccount, providers: list[LocalAccount]
) -> None:
    p = providers[0].address
    decay = ledger.decay
    top = RepDelta(count=1, successes=MAX80, failures=MAX80)
    now = settle(ledger, settler, requester, [raw(p, "general", top)])
    state = apply_update(RepState(), top, decay, now)
    assert ledger.reputation(p, "general") == state == RepState(MAX80, MAX80, 1, now)

    task = open_task(ledger, requester)
    for delta in (RepDelta(1, MAX80, 0), RepDelta(1, 0, MAX80), RepDelta(MAX48, 0, 0)):
        with pytest.raises(OverflowError):
            apply_update(state, delta, decay, now)
        batch = SettlementBatch((task,), (Payout(settler.address, GWEI),), (raw(p, "general", delta),))
        with refused(ledger, ContractRevert, "reputation overflow"):
            ledger.settle_batch(batch, settler)


def test_an_update_in_an_unknown_domain_fails_in_python(
    ledger: Web3Ledger, settler: LocalAccount, requester: LocalAccount, providers: list[LocalAccount]
) -> None:
    task = open_task(ledger, requester)
    updates = (update(providers[0], "astrology", [1.0], ledger.decay),)
    with refused(ledger, UnknownDomain, "unknown domain"):
        ledger.settle_batch(SettlementBatch((task,), (Payout(settler.address, GWEI),), updates), settler)


def test_the_contract_trusts_the_settler_with_the_updates(
    ledger: Web3Ledger, settler: LocalAccount, requester: LocalAccount, accounts: list[LocalAccount]
) -> None:
    # Not checked on chain: the provider need not be registered (or serve the domain), and successes
    # plus failures need not match count. If the contract starts refusing these, make this a refusal test.
    stranger = accounts[6].address
    now = settle(ledger, settler, requester, [raw(stranger, "medicine", RepDelta(0, 5 * UNIT, 0))])
    assert ledger.reputation(stranger, "medicine") == RepState(5 * UNIT, 0, 0, now)
    assert not ledger.is_registered(stranger)


# ------------------------------------------------------------------ reset


def test_reset_reputation_is_for_governance_only(
    ledger: Web3Ledger,
    governance: LocalAccount,
    settler: LocalAccount,
    requester: LocalAccount,
    providers: list[LocalAccount],
) -> None:
    p = providers[0]
    decay = ledger.decay
    settle(ledger, settler, requester, [update(p, "general", [1.0, 0.0], decay), update(p, "law", [1.0], decay)])
    law = ledger.reputation(p.address, "law")
    reset = ledger.escrow.functions.reset_reputation(p.address, bytes.fromhex(domain_id("general")[2:]))
    for outsider in (p, settler):
        with refused(ledger, NotAuthorized, "only governance may reset reputation"):
            ledger.tx.send(reset, outsider)

    ledger.tx.send(reset, governance)
    assert ledger.reputation(p.address, "general") == RepState()
    assert ledger.reputation(p.address, "law") == law
    assert next(c for c in ledger.candidates("general") if c.provider == p.address).reputation == RepState()

    delta = aggregate([0.5], decay)
    now = settle(ledger, settler, requester, [raw(p.address, "general", delta)])
    assert ledger.reputation(p.address, "general") == apply_update(RepState(), delta, decay, now)


# ------------------------------------------------------------------ candidates


def test_candidates_give_stake_and_reputation_of_every_member_in_one_call(
    ledger: Web3Ledger,
    governance: LocalAccount,
    settler: LocalAccount,
    requester: LocalAccount,
    providers: list[LocalAccount],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b, c = providers
    decay = ledger.decay
    ledger.add_stake(ETHER, a)
    ledger.request_unstake(MIN_STAKE // 2, b)
    ledger.slash(c.address, 1, 0, governance)
    settle(
        ledger,
        settler,
        requester,
        [update(a, "general", [1.0], decay), update(c, "general", [0.2, 0.4], decay)],
    )
    ledger.candidates("general")  # learn the domain ids first

    caplog.set_level(logging.DEBUG, logger="web3.manager.RequestManager")
    rows = ledger.candidates("general")
    requests = [r.getMessage() for r in caplog.records if r.name == "web3.manager.RequestManager"]
    assert requests.count("Making request. Method: eth_call") == 1  # web3 adds eth_chainId look-ups

    assert [r.provider for r in rows] == [a.address, b.address, c.address]
    assert [r.stake for r in rows] == [MIN_STAKE + ETHER, MIN_STAKE - MIN_STAKE // 2, MIN_STAKE - 1]
    for row in rows:
        assert row.stake == ledger.get_provider(row.provider).stake
        assert row.reputation == ledger.reputation(row.provider, "general")
    assert rows[1].reputation == RepState()
    assert rows[0].mean > rows[2].mean > 0
    assert [r.provider for r in ledger.candidates("law")] == [a.address]
    assert ledger.candidates("medicine") == []


def test_candidates_of_an_unknown_domain(ledger: Web3Ledger) -> None:
    fn = ledger.escrow.functions.domain_candidates(bytes.fromhex(domain_id("astrology")[2:]))
    with pytest.raises(UnknownDomain) as info:
        try:
            fn.call()
        except Exception as exc:
            raise translate(exc) from None
    assert info.value.reason == "unknown domain"  # the registry's revert, passed through the escrow
    with pytest.raises(UnknownDomain):
        ledger.candidates("astrology")


def test_reputation_outlives_leaving_a_domain(
    ledger: Web3Ledger, settler: LocalAccount, requester: LocalAccount, providers: list[LocalAccount]
) -> None:
    a = providers[0]
    settle(ledger, settler, requester, [update(a, "law", [1.0, 1.0, 0.0], ledger.decay)])
    kept = ledger.reputation(a.address, "law")
    ledger.update_provider(profile("general"), a)
    assert ledger.candidates("law") == []
    assert ledger.reputation(a.address, "law") == kept
    ledger.update_provider(profile("general", "law"), a)
    [row] = ledger.candidates("law")
    assert (row.provider, row.reputation) == (a.address, kept)
