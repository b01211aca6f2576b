"""ValidatorBook on a real anvil node: validator stake, trust, slashing, and the three-phase
commit-reveal of ratings that keeps validators from copying each other.

Every refused call is checked for its exact error class, the contract's revert string and an
unchanged chain.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from llmnet.chain.calls import ChainCall
from llmnet.chain.commit_reveal import commitment, new_salt, ratings_root
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import (
    AlreadyExists,
    CommitmentMismatch,
    ContractRevert,
    CooldownActive,
    InsufficientFunds,
    NotAuthorized,
    StakeTooLow,
    UnknownProvider,
    WrongEpoch,
)
from llmnet.types import ETHER
from tests.conftest import TEST_PARAMS, advance_time
from tests.integration.chain_checks import refused

pytestmark = pytest.mark.integration

STAKE = TEST_PARAMS.validator_min_stake
JUDGE = "0x" + "cd" * 32
DIGESTS = ["0x" + f"{i:02x}" * 32 for i in range(1, 6)]


def ledger_call(function: str, args: tuple[object, ...]) -> ChainCall:
    return ChainCall("ValidatorBook", function, args, context=function)


def register(ledger: Web3Ledger, account: LocalAccount, stake: int = STAKE) -> None:
    ledger.register_validator(f"http://127.0.0.1:85{account.address[-2:]}", "judge-model", JUDGE, stake, account)


def start_of_epoch(ledger: Web3Ledger, w3: Web3) -> int:
    """Move the clock to one second into the next epoch, so a test's few blocks stay inside it."""
    now = ledger.now()
    advance_time(w3, ledger.epoch_length - now % ledger.epoch_length + 1)
    return ledger.current_epoch()


def next_epoch(ledger: Web3Ledger, w3: Web3) -> int:
    advance_time(w3, ledger.epoch_length)
    return ledger.current_epoch()


def test_register_records_stake_judge_and_initial_trust(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    v = accounts[5]
    register(ledger, v, 2 * STAKE)
    info = ledger.get_validator(v.address)
    assert (info.stake, info.judge_model_id, info.judge_weights_hash) == (2 * STAKE, "judge-model", JUDGE)
    assert info.trust_ppm == TEST_PARAMS.initial_trust_ppm and info.trust == 0.5
    assert ledger.is_validator(v.address) and not ledger.is_validator(accounts[6].address)
    assert [x.address for x in ledger.validators()] == [v.address]


def test_registration_refusals_change_nothing(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    v = accounts[5]
    with refused(ledger, StakeTooLow, "stake below the minimum validator stake"):
        register(ledger, v, STAKE - 1)
    with refused(ledger, ContractRevert, "endpoint is empty"):
        ledger.register_validator("", "judge-model", JUDGE, STAKE, v)
    register(ledger, v)
    with refused(ledger, AlreadyExists, "validator is already registered"):
        register(ledger, v)
    with refused(ledger, UnknownProvider, "validator not registered"):
        ledger.get_validator(accounts[6].address)


def test_commit_then_reveal_in_the_two_following_epochs(
    ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]
) -> None:
    v = accounts[5]
    register(ledger, v)
    rated = start_of_epoch(ledger, w3)  # ratings made during this epoch
    root, salt = ratings_root(DIGESTS), new_salt()
    mine = commitment(v.address, rated, root, len(DIGESTS), salt)
    on_chain = ledger.validator_book.functions.commitment_of(v.address, rated, root, len(DIGESTS), salt).call()
    assert "0x" + bytes(on_chain).hex() == mine
    with refused(ledger, WrongEpoch, "ratings of an epoch are committed during the next epoch"):
        ledger.commit_ratings(rated, mine, v)
    assert next_epoch(ledger, w3) == rated + 1
    ledger.commit_ratings(rated, mine, v)
    with refused(ledger, AlreadyExists, "already committed for this epoch"):
        ledger.commit_ratings(rated, commitment(v.address, rated, root, 4, salt), v)
    with refused(ledger, WrongEpoch, "ratings of an epoch are revealed two epochs later"):
        ledger.reveal_ratings(rated, root, len(DIGESTS), salt, v)
    assert ledger.revealed_root(v.address, rated) is None
    next_epoch(ledger, w3)
    with refused(ledger, CommitmentMismatch, "reveal does not match the commitment"):
        ledger.reveal_ratings(rated, root, len(DIGESTS), new_salt(), v)
    with refused(ledger, CommitmentMismatch, "reveal does not match the commitment"):
        ledger.reveal_ratings(rated, ratings_root(DIGESTS[:-1]), len(DIGESTS), salt, v)
    ledger.reveal_ratings(rated, root, len(DIGESTS), salt, v)
    assert ledger.revealed_root(v.address, rated) == root
    with refused(ledger, AlreadyExists, "already revealed"):
        ledger.reveal_ratings(rated, root, len(DIGESTS), salt, v)
    assert not ledger.missed_reveal(v.address, rated)


def test_a_copied_commitment_cannot_be_revealed_by_the_copier(
    ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]
) -> None:
    honest, copier = accounts[5], accounts[6]
    register(ledger, honest)
    register(ledger, copier)
    rated = start_of_epoch(ledger, w3)
    root, salt = ratings_root(DIGESTS), new_salt()
    next_epoch(ledger, w3)
    honest_commitment = commitment(honest.address, rated, root, len(DIGESTS), salt)
    ledger.commit_ratings(rated, honest_commitment, honest)
    ledger.commit_ratings(rated, honest_commitment, copier)  # seen in the mempool and copied
    next_epoch(ledger, w3)
    ledger.reveal_ratings(rated, root, len(DIGESTS), salt, honest)
    with refused(ledger, CommitmentMismatch, "reveal does not match the commitment"):
        ledger.reveal_ratings(rated, root, len(DIGESTS), salt, copier)  # the salt is public now
    next_epoch(ledger, w3)
    assert ledger.missed_reveal(copier.address, rated)
    assert not ledger.missed_reveal(honest.address, rated)


def test_a_commitment_never_revealed_shows_as_missed_only_after_its_reveal_epoch(
    ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]
) -> None:
    v = accounts[5]
    register(ledger, v)
    rated = start_of_epoch(ledger, w3)
    next_epoch(ledger, w3)
    ledger.commit_ratings(rated, commitment(v.address, rated, ratings_root(DIGESTS), 5, new_salt()), v)
    next_epoch(ledger, w3)
    assert not ledger.missed_reveal(v.address, rated)  # still its reveal epoch
    next_epoch(ledger, w3)
    assert ledger.missed_reveal(v.address, rated)
    assert not ledger.missed_reveal(accounts[6].address, rated)  # nothing committed, nothing missed


def test_commit_refuses_strangers_and_empty_commitments(
    ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]
) -> None:
    v = accounts[5]
    rated = start_of_epoch(ledger, w3) - 1
    with refused(ledger, UnknownProvider, "validator not registered"):
        ledger.commit_ratings(rated, "0x" + "11" * 32, v)
    register(ledger, v)
    with refused(ledger, ContractRevert, "commitment is empty"):
        ledger.commit_ratings(rated, "0x" + "00" * 32, v)


def test_trust_is_recorded_by_settlers_and_governance_only(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    v, settler, stranger = accounts[5], accounts[6], accounts[7]
    register(ledger, v)
    with refused(ledger, NotAuthorized, "only a settler or governance may record trust"):
        ledger.set_trust([(v.address, 900_000)], stranger)
    ledger.set_settler(settler.address, True, governance)
    ledger.set_trust([(v.address, 900_000)], settler)
    assert ledger.get_validator(v.address).trust_ppm == 900_000
    ledger.set_trust([(v.address, 250_000)], governance)
    assert ledger.get_validator(v.address).trust == 0.25
    with refused(ledger, ContractRevert, "trust is above 1,000,000 ppm"):
        ledger.set_trust([(v.address, 1_000_001)], governance)
    with refused(ledger, UnknownProvider, "validator not registered"):
        ledger.set_trust([(stranger.address, 1)], governance)


def test_slashing_takes_stake_then_unstaking_and_only_from_a_judge(
    ledger: Web3Ledger, w3: Web3, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    v, stranger = accounts[5], accounts[7]
    register(ledger, v, 3 * STAKE)
    ledger.execute(ledger_call("request_unstake", (STAKE,)), v)
    with refused(ledger, NotAuthorized, "only a settler or governance may slash"):
        ledger.slash_validator(v.address, STAKE, 1, stranger)
    ledger.slash_validator(v.address, 2 * STAKE + STAKE // 2, 1, governance)
    info = ledger.get_validator(v.address)
    assert (info.stake, info.unstaking) == (0, STAKE // 2)
    ledger.slash_validator(v.address, 10 * ETHER, 1, governance)  # takes what is left, no more
    info = ledger.get_validator(v.address)
    assert (info.stake, info.unstaking) == (0, 0)
    assert ledger.validator_book.functions.slashed_total().call() == 3 * STAKE


def test_unstaking_waits_out_the_cooldown(ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]) -> None:
    v = accounts[5]
    register(ledger, v, 2 * STAKE)
    with refused(ledger, InsufficientFunds, "amount exceeds the stake"):
        ledger.execute(ledger_call("request_unstake", (3 * STAKE,)), v)
    ledger.execute(ledger_call("request_unstake", (STAKE,)), v)
    with refused(ledger, CooldownActive, "cooldown not over"):
        ledger.execute(ledger_call("withdraw", ()), v)
    advance_time(w3, TEST_PARAMS.cooldown + 1)
    before = ledger.balance_of(v.address)
    mined = ledger.execute(ledger_call("withdraw", ()), v)
    receipt = w3.eth.get_transaction_receipt(mined.tx_hash)  # type: ignore[arg-type]
    assert ledger.balance_of(v.address) == before + STAKE - receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert ledger.get_validator(v.address).stake == STAKE
