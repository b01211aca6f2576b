"""Who hands out work, and to whom, read from the chain (the memory ledger): coordinators in good
standing, the validators a coordinator asks, the settler it hands outcomes to, and whose ratings
the settler counts. Nothing comes from a static list unless an operator restricts it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.backends.fake import FakeBackend
from llmnet.chain.memory_ledger import MemoryLedger, MemoryParams
from llmnet.chain.network import dev_account
from llmnet.errors import SignatureError
from llmnet.roles.admission import Coordinators, ensure_coordinator, on_chain, settler_endpoint
from llmnet.roles.directory import Directory
from llmnet.roles.protocol import Message, RespondPayload, RespondRequest
from llmnet.roles.respondent import Respondent
from llmnet.roles.trust_keeper import TrustKeeper
from llmnet.signing import SigningDomain, TaskAssignment, sign
from llmnet.types import ETHER, ZERO_HASH, ProviderProfile

GOV, COORDINATOR, STRANGER = dev_account(0), dev_account(8), dev_account(3)
RESPONDENT, V1, V2 = dev_account(1), dev_account(6), dev_account(7)
SIGNING = SigningDomain(chain_id=31337, verifying_contract="0x" + "11" * 20)
MIN = MemoryParams().validator_min_stake


def chain() -> MemoryLedger:
    ledger = MemoryLedger(governance=GOV.address, domains=("general",))
    for who in (GOV, COORDINATOR, STRANGER, RESPONDENT, V1, V2):
        ledger.fund(who.address, 100 * ETHER)
    return ledger


def join_validator(ledger: MemoryLedger, who: LocalAccount, port: int) -> None:
    ledger.register_validator(f"http://127.0.0.1:{port}", "judge", ZERO_HASH, MIN, who)


# ------------------------------------------------------------------ coordinators in good standing


def test_a_registered_coordinator_in_good_standing_is_admitted() -> None:
    ledger = chain()
    ledger.register_coordinator("http://127.0.0.1:8300", MIN, COORDINATOR)
    on_chain(ledger).require(COORDINATOR.address, "task assignment")


def test_an_unregistered_coordinator_is_refused_saying_what_it_lacks() -> None:
    with pytest.raises(SignatureError, match=f"task assignment signed by {STRANGER.address}, which is not a "
                                             "coordinator in good standing on chain"):  # fmt: skip
        on_chain(chain()).require(STRANGER.address, "task assignment")


def test_a_coordinator_that_unstakes_is_refused_once_its_standing_is_read_again() -> None:
    ledger = chain()
    ledger.register_coordinator("http://127.0.0.1:8300", MIN, COORDINATOR)
    coordinators = on_chain(ledger, ttl_s=0.0)
    coordinators.require(COORDINATOR.address, "task assignment")
    ledger.request_coordinator_unstake(1, COORDINATOR)  # below the minimum, and leaving
    with pytest.raises(SignatureError, match="not a coordinator in good standing"):
        coordinators.require(COORDINATOR.address, "task assignment")


def test_an_operators_list_restricts_the_coordinators_on_chain() -> None:
    ledger = chain()
    for who in (COORDINATOR, STRANGER):
        ledger.register_coordinator("http://127.0.0.1:8300", MIN, who)
    only = on_chain(ledger, [COORDINATOR.address.lower()])
    only.require(COORDINATOR.address, "rating assignment")
    with pytest.raises(SignatureError, match="not one of this service's trusted_coordinators"):
        only.require(STRANGER.address, "rating assignment")


def test_without_a_chain_a_fixed_list_is_all_there_is() -> None:
    Coordinators(None, [COORDINATOR.address]).require(COORDINATOR.address, "outcome claim")
    with pytest.raises(SignatureError, match="trusts no coordinator"):
        Coordinators(None).require(COORDINATOR.address, "outcome claim")


def test_a_coordinator_registers_once_and_moves_with_its_url() -> None:
    ledger = chain()
    assert ensure_coordinator(ledger, COORDINATOR, "http://127.0.0.1:8300", ETHER) == "registered"
    assert ensure_coordinator(ledger, COORDINATOR, "http://127.0.0.1:8300", ETHER) == "unchanged"
    assert ensure_coordinator(ledger, COORDINATOR, "http://10.0.0.2:8300", ETHER) == "updated"
    assert [(c.endpoint, c.stake) for c in ledger.coordinators()] == [("http://10.0.0.2:8300", ETHER)]


def test_a_respondent_refuses_an_assignment_from_a_coordinator_not_on_chain() -> None:
    ledger = chain()
    ledger.register_coordinator("http://127.0.0.1:8300", MIN, COORDINATOR)
    respondent = Respondent(FakeBackend(), RESPONDENT, SIGNING, on_chain(ledger))
    assert respondent.check(assigned(COORDINATOR)).coordinator == COORDINATOR.address
    with pytest.raises(SignatureError, match="not a coordinator in good standing on chain"):
        respondent.check(assigned(STRANGER))


def assigned(signer: LocalAccount) -> RespondRequest:
    payload = RespondPayload(messages=[Message(role="user", content="Capital of France?")])
    a = TaskAssignment(task_id=1, coordinator=signer.address, respondent=RESPONDENT.address,
                       content_hash=payload.digest(), round=0, deadline=int(time.time()) + 60)  # fmt: skip
    return RespondRequest(assignment=sign(a, signer, SIGNING).to_dict(), payload=payload)


# ------------------------------------------------------------------ validators and the settler


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``check`` until true: the directory serves a stale entry while it refreshes in the background."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not seen within the upper bound"
        time.sleep(0.01)


def test_the_coordinator_asks_every_validator_in_good_standing_as_the_book_changes() -> None:
    ledger = chain()
    join_validator(ledger, V1, 8501)
    directory = Directory(ledger, ttl_s=0.0)
    assert directory.active_validators() == ["http://127.0.0.1:8501"]
    join_validator(ledger, V2, 8502)  # joins while the network runs
    wait_for(lambda: directory.active_validators() == ["http://127.0.0.1:8501", "http://127.0.0.1:8502"])
    ledger.request_validator_unstake(1, V1)  # leaving: no more work
    wait_for(lambda: directory.active_validators() == ["http://127.0.0.1:8502"])
    assert directory.validator_address("http://127.0.0.1:8501") == V1.address  # still named in receipts


def test_the_settler_is_the_first_listed_settler_in_good_standing() -> None:
    ledger = chain()
    assert settler_endpoint(ledger) is None
    join_validator(ledger, V1, 8501)
    join_validator(ledger, V2, 8502)
    ledger.set_settler(STRANGER.address, True, GOV)  # allowed to settle, but not a validator
    ledger.set_settler(V1.address, True, GOV)
    ledger.set_settler(V2.address, True, GOV)
    assert settler_endpoint(ledger) == "http://127.0.0.1:8501"
    ledger.request_validator_unstake(MIN, V1)
    assert settler_endpoint(ledger) == "http://127.0.0.1:8502"


def test_the_settler_counts_ratings_only_from_validators_in_good_standing() -> None:
    ledger = chain()
    join_validator(ledger, V1, 8501)
    join_validator(ledger, V2, 8502)
    keeper = TrustKeeper(ledger, ttl_s=0.0)
    assert set(keeper.weights()) == {V1.address, V2.address}
    ledger.request_validator_unstake(1, V2)
    assert set(keeper.weights()) == {V1.address}
    assert keeper.known == {V1.address, V2.address}  # its signed ratings are still accepted, counted as nothing
    assert set(TrustKeeper(ledger, only=frozenset({V2.address})).weights()) == set()


def test_the_coordinator_follows_a_respondent_that_moves_to_another_url() -> None:
    ledger = chain()
    here = ProviderProfile(endpoint="http://10.0.0.1:8401", domains=("general",), model_id="m")
    ledger.register_provider(here, ledger.min_stake, RESPONDENT)
    directory = Directory(ledger, ttl_s=0.0)
    assert directory.known_endpoint(RESPONDENT.address) is None  # never read: the caller reads it off the loop
    assert directory.endpoint(RESPONDENT.address) == "http://10.0.0.1:8401"
    ledger.update_provider(ProviderProfile(endpoint="http://10.0.0.2:8401", domains=("general",), model_id="m"),
                           RESPONDENT)  # fmt: skip
    wait_for(lambda: directory.known_endpoint(RESPONDENT.address) == "http://10.0.0.2:8401")
