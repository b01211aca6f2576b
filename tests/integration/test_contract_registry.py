"""ProviderRegistry on a real anvil node, through the Ledger and, where only the
contract checks something, through the raw contract call.

Every refused call is checked three ways: the typed llmnet error, the
contract's own revert string in ``err.reason``, and an unchanged chain
(every account's balance, nonce and storage).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

from llmnet.chain.artifacts import load_artifact
from llmnet.chain.transactions import translate
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import (
    AlreadyExists,
    ContractRevert,
    CooldownActive,
    InputError,
    InsufficientFunds,
    NotAuthorized,
    NotDeployed,
    NothingToWithdraw,
    StakeTooLow,
    UnknownDomain,
    UnknownProvider,
)
from llmnet.types import ETHER, ZERO_HASH, DomainCard, ProviderProfile, domain_id
from tests.conftest import TEST_DOMAINS, TEST_PARAMS, advance_time
from tests.integration.chain_checks import refused

pytestmark = pytest.mark.integration

MIN_STAKE = TEST_PARAMS.min_stake
COOLDOWN = TEST_PARAMS.cooldown
ZERO_ADDRESS = "0x" + "00" * 20
WEIGHTS = "0x" + "ab" * 32


def did(name: str) -> bytes:
    return bytes.fromhex(domain_id(name)[2:])


def profile(*domains: str, endpoint: str = "http://127.0.0.1:8001", model_id: str = "tiny-llm") -> ProviderProfile:
    return ProviderProfile(
        endpoint=endpoint,
        domains=domains or ("general",),
        model_id=model_id,
        weights_hash=WEIGHTS,
        model_version="1.0",
        licence="MIT",
    )


def register(ledger: Web3Ledger, account: LocalAccount, *domains: str, stake: int = MIN_STAKE) -> None:
    ledger.register_provider(profile(*domains), stake, account)


def raw_register(
    ledger: Web3Ledger,
    account: LocalAccount,
    *,
    endpoint: str = "http://127.0.0.1:8001",
    domains: Sequence[bytes] = (),
    model_id: str = "tiny-llm",
    value: int = MIN_STAKE,
) -> Any:
    """register() straight on the contract, past the Python profile checks."""
    fn = ledger.registry.functions.register(endpoint, list(domains), model_id, b"\x00" * 32, "", "")
    return ledger.tx.send(fn, account, value=value)


def raw_update(
    ledger: Web3Ledger,
    account: LocalAccount,
    *,
    endpoint: str = "http://127.0.0.1:8001",
    domains: Sequence[bytes] = (),
    model_id: str = "tiny-llm",
) -> Any:
    fn = ledger.registry.functions.update(endpoint, list(domains), model_id, b"\x00" * 32, "", "")
    return ledger.tx.send(fn, account)


def members(ledger: Web3Ledger, domain: str) -> list[str]:
    return [c.provider for c in ledger.candidates(domain)]


def view(fn: Any) -> Any:
    """A raw contract read, its revert translated as the ledger does."""
    try:
        return fn.call()
    except Exception as exc:
        raise translate(exc) from None


def gas_cost(w3: Web3, tx_hash: str) -> int:
    r = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    return int(r["gasUsed"]) * int(r["effectiveGasPrice"])


def block_time(w3: Web3, block_number: int) -> int:
    return int(w3.eth.get_block(block_number)["timestamp"])


# ------------------------------------------------------------------ deployment and domains


def test_deployment_is_wired(ledger: Web3Ledger, governance: LocalAccount) -> None:
    fns = ledger.registry.functions
    assert ledger.domains() == list(TEST_DOMAINS)
    assert ledger.min_stake == MIN_STAKE
    assert fns.cooldown().call() == COOLDOWN
    assert fns.governance().call() == governance.address
    assert fns.settlement().call() == ledger.escrow.address
    assert fns.slashed_total().call() == 0
    assert fns.all_providers().call() == []
    for i, name in enumerate(TEST_DOMAINS, start=1):
        assert fns.domain_index(did(name)).call() == i
        assert fns.domain_members(did(name)).call() == []


def test_constructor_needs_a_positive_minimum_stake(ledger: Web3Ledger, governance: LocalAccount) -> None:
    artifact = load_artifact("ProviderRegistry")
    factory = ledger.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    with refused(ledger, ContractRevert, "min_stake must be positive"):
        ledger.tx.send(factory.constructor(0, COOLDOWN), governance)


def test_add_domain_by_governance(ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]) -> None:
    receipt = ledger.add_domain("code", governance)
    assert receipt.block_number > 0
    assert ledger.domains() == [*TEST_DOMAINS, "code"]
    assert ledger.registry.functions.domain_index(did("code")).call() == 4
    assert ledger.candidates("code") == []
    register(ledger, accounts[0], "code")
    assert members(ledger, "code") == [accounts[0].address]


def test_add_domain_returns_its_id(ledger: Web3Ledger, governance: LocalAccount) -> None:
    fn = ledger.registry.functions.add_domain("finance")
    assert fn.call({"from": governance.address}) == did("finance")


def test_add_domain_by_a_stranger_is_refused(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with refused(ledger, NotAuthorized, "only governance may do this"):
        ledger.add_domain("code", accounts[0])


def test_add_domain_twice_is_refused(ledger: Web3Ledger, governance: LocalAccount) -> None:
    with refused(ledger, AlreadyExists, "domain already exists"):
        ledger.add_domain("medicine", governance)


@pytest.mark.parametrize("name", ["", "Medicine", "two words", "x" * 33, "-dash"])
def test_add_domain_with_a_bad_name_fails_in_python(ledger: Web3Ledger, governance: LocalAccount, name: str) -> None:
    with refused(ledger, InputError, None):
        ledger.add_domain(name, governance)


CORPUS = "0x" + "c0" * 32


def test_set_domain_card_logs_the_card(ledger: Web3Ledger, governance: LocalAccount) -> None:
    card = DomainCard("law", "Courts and contracts.", CORPUS, "http://127.0.0.1:8403/v1/corpus/" + CORPUS)
    receipt = ledger.set_domain_card(card, governance)
    (log,) = ledger.registry.events.DomainCardSet().get_logs(from_block=receipt.block_number)
    assert log.args.domain == did("law") and log.args.description == "Courts and contracts."
    assert log.args.corpus_hash == bytes.fromhex(CORPUS[2:]) and log.args.corpus_url == card.corpus_url
    law = ("law", ("Courts and contracts.", bytes.fromhex(CORPUS[2:]), card.corpus_url))
    assert ledger.registry.functions.domain_cards().call()[TEST_DOMAINS.index("law")] == law


def test_a_corpus_hash_without_a_url_is_refused_by_the_contract(ledger: Web3Ledger, governance: LocalAccount) -> None:
    with refused(ledger, ContractRevert, "corpus hash and url go together"):
        ledger.tx.send(ledger.registry.functions.set_domain_card(did("law"), "", bytes.fromhex(CORPUS[2:]), ""),
                       governance)  # fmt: skip
    with refused(ledger, ContractRevert, "corpus hash and url go together"):
        ledger.tx.send(ledger.registry.functions.set_domain_card(did("law"), "", b"\0" * 32, "http://x"), governance)


def test_a_card_for_an_unknown_domain_is_refused_by_the_contract(ledger: Web3Ledger, governance: LocalAccount) -> None:
    with refused(ledger, UnknownDomain, "unknown domain"):
        ledger.tx.send(ledger.registry.functions.set_domain_card(did("astrology"), "", b"\0" * 32, ""), governance)


def test_a_card_by_a_stranger_is_refused_by_the_contract(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with refused(ledger, NotAuthorized, "only governance may do this"):
        ledger.tx.send(ledger.registry.functions.set_domain_card(did("law"), "x", b"\0" * 32, ""), accounts[0])


def test_a_registry_without_domain_cards_is_named_as_an_older_deployment(ledger: Web3Ledger, w3: Web3) -> None:
    older = Web3Ledger(w3, replace(ledger.deployment, registry=ledger.deployment.escrow))  # no domain_cards()
    with pytest.raises(NotDeployed, match="predates domain cards"):
        older.domain_cards()


def test_add_empty_domain_is_refused_by_the_contract(ledger: Web3Ledger, governance: LocalAccount) -> None:
    with refused(ledger, ContractRevert, "domain name is empty"):
        ledger.tx.send(ledger.registry.functions.add_domain(""), governance)


def test_a_domain_name_the_client_rejects_does_not_break_other_domains(
    ledger: Web3Ledger, w3: Web3, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    ledger.tx.send(ledger.registry.functions.add_domain("Two Words"), governance)
    fresh = Web3Ledger(w3, ledger.deployment)  # a client that has not cached the names yet
    register(fresh, accounts[0], "general")
    assert members(fresh, "general") == [accounts[0].address]


# ------------------------------------------------------------------ register


def test_register_records_the_profile_and_stake(ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]) -> None:
    provider = accounts[0]
    balance = ledger.balance_of(provider.address)
    receipt = ledger.register_provider(profile("medicine", "law"), MIN_STAKE, provider)

    info = ledger.get_provider(provider.address)
    assert info.address == provider.address
    assert info.profile == profile("medicine", "law")
    assert (info.stake, info.unstaking, info.unlock_at) == (MIN_STAKE, 0, 0)
    assert info.registered_at == block_time(w3, receipt.block_number)
    assert ledger.is_registered(provider.address)
    assert ledger.registry.functions.is_active(provider.address).call()
    assert ledger.registry.functions.stake_of(provider.address).call() == MIN_STAKE
    assert ledger.registry.functions.all_providers().call() == [provider.address]
    assert members(ledger, "medicine") == members(ledger, "law") == [provider.address]
    assert members(ledger, "general") == []
    assert ledger.balance_of(ledger.registry.address) == MIN_STAKE
    assert ledger.balance_of(provider.address) == balance - MIN_STAKE - gas_cost(w3, receipt.tx_hash)


@pytest.mark.parametrize("stake", [0, MIN_STAKE - 1])
def test_register_below_minimum_stake_is_refused(ledger: Web3Ledger, accounts: list[LocalAccount], stake: int) -> None:
    with refused(ledger, StakeTooLow, "stake below the minimum"):
        register(ledger, accounts[0], "general", stake=stake)
    assert not ledger.is_registered(accounts[0].address)


def test_register_with_negative_stake_fails_in_python(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with refused(ledger, InputError, None):
        register(ledger, accounts[0], "general", stake=-1)


def test_register_in_an_unknown_domain_fails_before_the_chain(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with refused(ledger, UnknownDomain, "unknown domain"):
        register(ledger, accounts[0], "general", "astrology")


def test_register_in_an_unknown_domain_is_refused_by_the_contract(
    ledger: Web3Ledger, accounts: list[LocalAccount]
) -> None:
    with refused(ledger, UnknownDomain, "unknown domain"):
        raw_register(ledger, accounts[0], domains=[did("general"), did("astrology")])


def test_register_twice_in_one_domain_is_refused(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with refused(ledger, InputError, None):
        register(ledger, accounts[0], "law", "law")
    with refused(ledger, ContractRevert, "duplicate domain"):
        raw_register(ledger, accounts[0], domains=[did("law"), did("general"), did("law")])


def test_register_without_domains_is_refused(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with pytest.raises(InputError):
        ProviderProfile(endpoint="http://x", domains=(), model_id="m")
    with refused(ledger, ContractRevert, "at least one domain is required"):
        raw_register(ledger, accounts[0], domains=[])


def test_register_with_empty_endpoint_is_refused(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with pytest.raises(InputError, match="endpoint is empty"):
        profile("general", endpoint="")
    with refused(ledger, ContractRevert, "endpoint is empty"):
        raw_register(ledger, accounts[0], endpoint="", domains=[did("general")])


def test_register_with_empty_model_id_is_refused(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with pytest.raises(InputError, match="model id"):
        profile("general", model_id="")
    with refused(ledger, ContractRevert, "model id is empty"):
        raw_register(ledger, accounts[0], model_id="", domains=[did("general")])


def test_register_checks_registration_before_stake(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    register(ledger, accounts[0], "general")
    with refused(ledger, AlreadyExists, "provider already registered"):
        register(ledger, accounts[0], "law", stake=ETHER)
    with refused(ledger, AlreadyExists, "provider already registered"):
        register(ledger, accounts[0], "law", stake=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoint": "h" * 257},
        {"model_id": "m" * 129},
        {"domains": tuple(f"d{i}" for i in range(9))},
        {"domains": ("Not A Domain",)},
        {"weights_hash": "0x1234"},
        {"model_version": "v" * 65},
        {"licence": "l" * 65},
    ],
)
def test_profile_validation(kwargs: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"endpoint": "http://x", "domains": ("general",), "model_id": "m", **kwargs}
    with pytest.raises(InputError):
        ProviderProfile(**fields)


def test_register_with_more_than_eight_domains_is_refused_by_the_contract(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    for i in range(6):
        ledger.add_domain(f"extra{i}", governance)
    nine = [did(d) for d in ledger.domains()]
    assert len(nine) == 9
    # a DynArray[bytes32, 8] argument of length 9 fails ABI decoding: a revert without a reason string
    with refused(ledger, ContractRevert, "execution reverted"):
        raw_register(ledger, accounts[0], domains=nine)


# ------------------------------------------------------------------ update


def test_update_replaces_profile_and_domains(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    a = accounts[0]
    register(ledger, a, "general", "medicine")
    new = ProviderProfile(
        endpoint="http://10.0.0.2:9000", domains=("law", "medicine"), model_id="big-llm", model_version="2"
    )
    ledger.update_provider(new, a)

    info = ledger.get_provider(a.address)
    assert info.profile == new
    assert info.stake == MIN_STAKE
    assert members(ledger, "general") == []
    assert members(ledger, "medicine") == members(ledger, "law") == [a.address]


def test_update_of_an_unregistered_provider_is_refused(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with refused(ledger, UnknownProvider, "provider not registered"):
        ledger.update_provider(profile("general"), accounts[0])


@pytest.mark.parametrize(
    ("kwargs", "error", "reason"),
    [
        ({"endpoint": "", "domains": [did("law")]}, ContractRevert, "endpoint is empty"),
        ({"model_id": "", "domains": [did("law")]}, ContractRevert, "model id is empty"),
        ({"domains": []}, ContractRevert, "at least one domain is required"),
        ({"domains": [did("law"), did("astrology")]}, UnknownDomain, "unknown domain"),
        ({"domains": [did("law"), did("law")]}, ContractRevert, "duplicate domain"),
    ],
)
def test_invalid_update_is_refused_and_keeps_memberships(
    ledger: Web3Ledger,
    accounts: list[LocalAccount],
    kwargs: dict[str, Any],
    error: type[Exception],
    reason: str,
) -> None:
    register(ledger, accounts[0], "general", "medicine")
    register(ledger, accounts[1], "general")
    with refused(ledger, error, reason):
        raw_update(ledger, accounts[0], **kwargs)


def test_update_keeping_a_domain_stays_a_member_once(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    a, b = accounts[0], accounts[1]
    register(ledger, a, "general")
    register(ledger, b, "general")
    ledger.update_provider(profile("general", "law"), a)
    assert sorted(members(ledger, "general")) == sorted([a.address, b.address])
    assert members(ledger, "law") == [a.address]


def test_leaving_from_the_middle_swaps_the_last_member_in(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    a, b, c, d, e = accounts[:5]
    for p in (a, b, c, d):
        register(ledger, p, "general")
    assert members(ledger, "general") == [a.address, b.address, c.address, d.address]

    ledger.update_provider(profile("law"), b)
    assert members(ledger, "general") == [a.address, d.address, c.address]
    assert members(ledger, "law") == [b.address]

    ledger.update_provider(profile("law"), d)  # d now sits in b's old slot
    assert members(ledger, "general") == [a.address, c.address]

    register(ledger, e, "general")
    ledger.update_provider(profile("medicine"), a)  # the head leaves
    assert members(ledger, "general") == [e.address, c.address]

    ledger.update_provider(profile("medicine"), c)  # the tail leaves
    assert members(ledger, "general") == [e.address]
    ledger.update_provider(profile("law"), e)
    assert members(ledger, "general") == []
    assert members(ledger, "law") == [b.address, d.address, e.address]
    assert members(ledger, "medicine") == [a.address, c.address]


def test_random_updates_match_a_swap_and_pop_model(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    rng = random.Random(7)
    providers = accounts[:6]
    model: dict[str, list[str]] = {d: [] for d in TEST_DOMAINS}
    current: dict[str, tuple[str, ...]] = {}
    for p in providers:
        doms = tuple(rng.sample(TEST_DOMAINS, rng.randint(1, 3)))
        register(ledger, p, *doms)
        current[p.address] = doms
        for d in doms:
            model[d].append(p.address)
    for _ in range(12):
        p = rng.choice(providers)
        doms = tuple(rng.sample(TEST_DOMAINS, rng.randint(1, 3)))
        ledger.update_provider(profile(*doms), p)
        for d in current[p.address]:
            row = model[d]
            i = row.index(p.address)
            row[i] = row[-1]
            row.pop()
        for d in doms:
            model[d].append(p.address)
        current[p.address] = doms
        for d in TEST_DOMAINS:
            assert members(ledger, d) == model[d]
    for p in providers:
        assert ledger.get_provider(p.address).profile.domains == current[p.address]


# ------------------------------------------------------------------ stake


def test_add_stake(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    register(ledger, accounts[0], "general")
    ledger.add_stake(ETHER, accounts[0])
    assert ledger.get_provider(accounts[0].address).stake == MIN_STAKE + ETHER
    assert ledger.candidates("general")[0].stake == MIN_STAKE + ETHER
    assert ledger.balance_of(ledger.registry.address) == MIN_STAKE + ETHER


def test_add_stake_refusals(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    a, stranger = accounts[0], accounts[1]
    register(ledger, a, "general")
    with refused(ledger, ContractRevert, "no value sent"):
        ledger.add_stake(0, a)
    with refused(ledger, UnknownProvider, "provider not registered"):
        ledger.add_stake(ETHER, stranger)
    with refused(ledger, InputError, None):
        ledger.add_stake(-5, a)


def test_request_unstake(ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]) -> None:
    a = accounts[0]
    register(ledger, a, "general", stake=3 * MIN_STAKE)
    receipt = ledger.request_unstake(MIN_STAKE, a)
    info = ledger.get_provider(a.address)
    assert (info.stake, info.unstaking) == (2 * MIN_STAKE, MIN_STAKE)
    assert info.unlock_at == block_time(w3, receipt.block_number) + COOLDOWN
    assert ledger.registry.functions.is_active(a.address).call()
    assert ledger.balance_of(ledger.registry.address) == 3 * MIN_STAKE  # nothing leaves before withdraw


def test_unstaking_below_the_minimum_deactivates_but_keeps_membership(
    ledger: Web3Ledger, accounts: list[LocalAccount]
) -> None:
    a = accounts[0]
    register(ledger, a, "general")
    ledger.request_unstake(1, a)
    assert not ledger.registry.functions.is_active(a.address).call()
    assert ledger.is_registered(a.address)
    # the provider stays listed; selection has to look at the stake itself
    assert [(c.provider, c.stake) for c in ledger.candidates("general")] == [(a.address, MIN_STAKE - 1)]
    ledger.add_stake(1, a)
    assert ledger.registry.functions.is_active(a.address).call()


def test_request_unstake_refusals(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    a, stranger = accounts[0], accounts[1]
    register(ledger, a, "general")
    with refused(ledger, ContractRevert, "unstake amount must be positive"):
        ledger.request_unstake(0, a)
    with refused(ledger, InsufficientFunds, "unstake amount exceeds stake"):
        ledger.request_unstake(MIN_STAKE + 1, a)
    with refused(ledger, UnknownProvider, "provider not registered"):
        ledger.request_unstake(1, stranger)
    with refused(ledger, InputError, None):
        ledger.request_unstake(-1, a)


def test_withdraw_waits_for_the_cooldown_then_pays(ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]) -> None:
    a = accounts[0]
    register(ledger, a, "general", stake=2 * MIN_STAKE)
    with refused(ledger, NothingToWithdraw, "nothing to withdraw"):
        ledger.withdraw_stake(a)

    ledger.request_unstake(MIN_STAKE, a)
    with refused(ledger, CooldownActive, "cooldown not over"):
        ledger.withdraw_stake(a)
    advance_time(w3, COOLDOWN - 60)
    with refused(ledger, CooldownActive, "cooldown not over"):
        ledger.withdraw_stake(a)

    advance_time(w3, 60)
    balance = ledger.balance_of(a.address)
    receipt = ledger.withdraw_stake(a)
    assert ledger.balance_of(a.address) == balance + MIN_STAKE - gas_cost(w3, receipt.tx_hash)
    info = ledger.get_provider(a.address)
    assert (info.stake, info.unstaking) == (MIN_STAKE, 0)
    assert ledger.balance_of(ledger.registry.address) == MIN_STAKE
    with refused(ledger, NothingToWithdraw, "nothing to withdraw"):
        ledger.withdraw_stake(a)


def test_withdraw_by_an_unregistered_account_has_nothing(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with refused(ledger, NothingToWithdraw, "nothing to withdraw"):
        ledger.withdraw_stake(accounts[0])


def test_a_second_unstake_request_restarts_the_whole_cooldown(
    ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]
) -> None:
    a = accounts[0]
    register(ledger, a, "general", stake=3 * MIN_STAKE)
    ledger.request_unstake(MIN_STAKE, a)
    advance_time(w3, COOLDOWN - 100)
    ledger.request_unstake(MIN_STAKE, a)
    advance_time(w3, 200)  # the first request's cooldown is over, but unlock_at moved for both
    with refused(ledger, CooldownActive, "cooldown not over"):
        ledger.withdraw_stake(a)
    advance_time(w3, COOLDOWN)
    ledger.withdraw_stake(a)
    assert ledger.get_provider(a.address).unstaking == 0


# ------------------------------------------------------------------ slashing


def test_slash_by_a_stranger_is_refused(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    a, stranger = accounts[0], accounts[1]
    register(ledger, a, "general")
    with refused(ledger, NotAuthorized, "only settlement or governance may slash"):
        ledger.slash(a.address, 1, 1, stranger)
    with refused(ledger, NotAuthorized, "only settlement or governance may slash"):
        ledger.slash(a.address, 1, 1, a)  # nor by the provider itself


def test_governance_slashes_stake(ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]) -> None:
    a = accounts[0]
    register(ledger, a, "general", stake=2 * MIN_STAKE)
    fn = ledger.registry.functions.slash(a.address, MIN_STAKE + 1, 3)
    assert fn.call({"from": governance.address}) == MIN_STAKE + 1
    ledger.slash(a.address, MIN_STAKE + 1, 3, governance)
    assert ledger.get_provider(a.address).stake == MIN_STAKE - 1
    assert ledger.registry.functions.slashed_total().call() == MIN_STAKE + 1
    assert not ledger.registry.functions.is_active(a.address).call()
    assert ledger.balance_of(ledger.registry.address) == 2 * MIN_STAKE  # slashed funds stay in the contract


def test_slash_reaches_into_the_unstaking_amount(
    ledger: Web3Ledger, w3: Web3, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    a = accounts[0]
    register(ledger, a, "general", stake=3 * MIN_STAKE)
    ledger.request_unstake(2 * MIN_STAKE, a)  # stake 1, unstaking 2
    ledger.slash(a.address, 2 * MIN_STAKE, 2, governance)
    info = ledger.get_provider(a.address)
    assert (info.stake, info.unstaking) == (0, MIN_STAKE)

    advance_time(w3, COOLDOWN)
    balance = ledger.balance_of(a.address)
    receipt = ledger.withdraw_stake(a)
    assert ledger.balance_of(a.address) == balance + MIN_STAKE - gas_cost(w3, receipt.tx_hash)


def test_slash_more_than_everything_takes_everything(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    a = accounts[0]
    register(ledger, a, "general", stake=2 * MIN_STAKE)
    ledger.request_unstake(MIN_STAKE, a)
    fn = ledger.registry.functions.slash(a.address, 10 * ETHER, 0)
    assert fn.call({"from": governance.address}) == 2 * MIN_STAKE
    ledger.slash(a.address, 10 * ETHER, 0, governance)
    info = ledger.get_provider(a.address)
    assert (info.stake, info.unstaking) == (0, 0)
    assert ledger.registry.functions.slashed_total().call() == 2 * MIN_STAKE
    with refused(ledger, NothingToWithdraw, "nothing to withdraw"):
        ledger.withdraw_stake(a)
    # slashing an emptied provider succeeds and takes nothing
    ledger.slash(a.address, 1, 0, governance)
    assert ledger.registry.functions.slashed_total().call() == 2 * MIN_STAKE


def test_slash_refusals(ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]) -> None:
    a, stranger = accounts[0], accounts[1]
    register(ledger, a, "general")
    with refused(ledger, UnknownProvider, "provider not registered"):
        ledger.slash(stranger.address, 1, 0, governance)
    with refused(ledger, ContractRevert, "slash amount must be positive"):
        ledger.slash(a.address, 0, 0, governance)
    with refused(ledger, InputError, None):
        ledger.slash("0x1234", 1, 0, governance)


def test_the_settlement_address_may_slash(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    a, settler = accounts[0], accounts[1]
    register(ledger, a, "general")
    ledger.tx.send(ledger.registry.functions.set_settlement(settler.address), governance)
    ledger.slash(a.address, 7, 1, settler)
    assert ledger.get_provider(a.address).stake == MIN_STAKE - 7


def test_withdraw_slashed(ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]) -> None:
    a, treasury, stranger = accounts[0], accounts[1], accounts[2]
    register(ledger, a, "general")
    ledger.slash(a.address, MIN_STAKE // 2, 3, governance)
    fns = ledger.registry.functions

    with refused(ledger, NotAuthorized, "only governance may do this"):
        ledger.tx.send(fns.withdraw_slashed(stranger.address, 1), stranger)
    with refused(ledger, InsufficientFunds, "amount exceeds slashed funds"):
        ledger.tx.send(fns.withdraw_slashed(treasury.address, MIN_STAKE // 2 + 1), governance)

    balance = ledger.balance_of(treasury.address)
    ledger.tx.send(fns.withdraw_slashed(treasury.address, MIN_STAKE // 2), governance)
    assert ledger.balance_of(treasury.address) == balance + MIN_STAKE // 2
    assert fns.slashed_total().call() == 0
    assert ledger.balance_of(ledger.registry.address) == MIN_STAKE - MIN_STAKE // 2  # only a's stake is left


# ------------------------------------------------------------------ governance


def test_set_settlement(ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]) -> None:
    fns = ledger.registry.functions
    with refused(ledger, NotAuthorized, "only governance may do this"):
        ledger.tx.send(fns.set_settlement(accounts[0].address), accounts[0])
    with refused(ledger, ContractRevert, "settlement address is empty"):
        ledger.tx.send(fns.set_settlement(ZERO_ADDRESS), governance)
    ledger.tx.send(fns.set_settlement(accounts[0].address), governance)
    assert fns.settlement().call() == accounts[0].address


def test_transfer_governance(ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]) -> None:
    fns = ledger.registry.functions
    heir = accounts[0]
    with refused(ledger, NotAuthorized, "only governance may do this"):
        ledger.tx.send(fns.transfer_governance(heir.address), heir)
    with refused(ledger, ContractRevert, "governance address is empty"):
        ledger.tx.send(fns.transfer_governance(ZERO_ADDRESS), governance)

    ledger.tx.send(fns.transfer_governance(heir.address), governance)
    assert fns.governance().call() == heir.address
    with refused(ledger, NotAuthorized, "only governance may do this"):
        ledger.add_domain("code", governance)
    ledger.add_domain("code", heir)
    assert "code" in ledger.domains()
    # the escrow has its own governance, which does not move with the registry's
    assert ledger.escrow.functions.governance().call() == governance.address


# ------------------------------------------------------------------ views


def test_get_provider_of_an_unknown_address(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with pytest.raises(UnknownProvider) as info:
        ledger.get_provider(accounts[0].address)
    assert info.value.reason == "provider not registered"
    assert not ledger.is_registered(accounts[0].address)
    assert ledger.registry.functions.stake_of(accounts[0].address).call() == 0
    assert not ledger.registry.functions.is_active(accounts[0].address).call()


def test_domain_members_of_an_unknown_domain(ledger: Web3Ledger) -> None:
    with pytest.raises(UnknownDomain) as info:
        view(ledger.registry.functions.domain_members(did("astrology")))
    assert info.value.reason == "unknown domain"
    with pytest.raises(UnknownDomain):
        ledger.providers("astrology")
    with pytest.raises(UnknownDomain):
        ledger.candidates("astrology")


def test_providers_lists_all_or_one_domain(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    a, b, c = accounts[:3]
    register(ledger, a, "general")
    register(ledger, b, "law", "general")
    register(ledger, c, "medicine")
    assert [p.address for p in ledger.providers()] == [a.address, b.address, c.address]
    assert [p.address for p in ledger.providers("general")] == [a.address, b.address]
    assert [p.address for p in ledger.providers("law")] == [b.address]
    assert ledger.providers("law")[0].profile.domains == ("law", "general")
    assert ledger.registry.functions.domain_members(did("general")).call() == [
        (a.address, MIN_STAKE),
        (b.address, MIN_STAKE),
    ]


def test_weights_hash_default_round_trips(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    plain = ProviderProfile(endpoint="http://x", domains=("law",), model_id="m")
    ledger.register_provider(plain, MIN_STAKE, accounts[0])
    assert ledger.get_provider(accounts[0].address).profile == plain
    assert plain.weights_hash == ZERO_HASH


def test_a_provider_in_a_domain_the_client_would_not_name_can_be_read(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    ledger.tx.send(ledger.registry.functions.add_domain("Two Words"), governance)
    register(ledger, accounts[0], "general")
    two_words = keccak(text="Two Words")
    raw_register(ledger, accounts[1], domains=[did("general"), two_words])
    assert [p.address for p in ledger.providers("general")] == [accounts[0].address, accounts[1].address]
    assert ledger.get_provider(accounts[1].address).profile.domains == ("general", "Two Words")


def test_a_multibyte_endpoint_over_256_bytes_fails_in_python(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    with refused(ledger, InputError, None):
        register_profile = ProviderProfile(endpoint="é" * 200, domains=("general",), model_id="m")
        ledger.register_provider(register_profile, MIN_STAKE, accounts[0])


def test_an_out_of_range_slash_reason_is_an_input_error(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    register(ledger, accounts[0], "general")
    with refused(ledger, InputError, None):
        ledger.slash(accounts[0].address, 1, 256, governance)


WALLET = """
#pragma version ~=0.4.3
interface Registry:
    def register(endpoint: String[256], domains: DynArray[bytes32, 8], model_id: String[128],
                 weights_hash: bytes32, model_version: String[64], licence: String[64]): payable
    def request_unstake(amount: uint256): nonpayable
    def withdraw(): nonpayable

received: public(uint256)

@external
@payable
def register(registry: address, domain: bytes32):
    extcall Registry(registry).register(
        "http://wallet", [domain], "m", empty(bytes32), "", "", value=msg.value
    )

@external
def unstake(registry: address, amount: uint256):
    extcall Registry(registry).request_unstake(amount)

@external
def withdraw(registry: address):
    extcall Registry(registry).withdraw()

@external
@payable
def __default__():
    self.received += msg.value  # one storage write: more than send()'s 2300-gas stipend
"""


def test_a_contract_wallet_can_withdraw_its_stake(ledger: Web3Ledger, w3: Web3, governance: LocalAccount) -> None:
    import vyper  # a dev dependency, only needed to build the wallet

    out = vyper.compile_code(WALLET, output_formats=["abi", "bytecode"])
    factory = w3.eth.contract(abi=out["abi"], bytecode=out["bytecode"])
    address = ledger.tx.send(factory.constructor(), governance).contract_address
    assert address is not None
    wallet = w3.eth.contract(address=Web3.to_checksum_address(address), abi=out["abi"])
    registry = ledger.registry.address
    ledger.tx.send(wallet.functions.register(registry, did("general")), governance, value=MIN_STAKE)
    ledger.tx.send(wallet.functions.unstake(registry, MIN_STAKE), governance)
    advance_time(w3, COOLDOWN)
    assert ledger.get_provider(wallet.address).unstaking == MIN_STAKE  # all went well up to here
    ledger.tx.send(wallet.functions.withdraw(registry), governance)
    assert ledger.balance_of(wallet.address) == MIN_STAKE


# ------------------------------------------------------------------ the client's transactions


def test_gas_price_stays_bounded_over_many_writes(ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]) -> None:
    # bidding from eth_gasPrice would feed our own tips back into the quote and double it each refresh
    register(ledger, accounts[0], "general")
    prices = []
    for _ in range(8):
        client = Web3Ledger(w3, ledger.deployment)  # as a new CLI invocation or a restarted service would
        mined = w3.eth.get_transaction_receipt(client.add_stake(1, accounts[0]).tx_hash)  # type: ignore[arg-type]
        prices.append(int(mined["effectiveGasPrice"]))
    assert max(prices) <= 4 * min(prices), prices
