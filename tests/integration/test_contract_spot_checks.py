"""Spot-check evidence on a real anvil node: a respondent's signed output against what
registered validators got by re-running its registered weights; enough of them convict it
(its stake slashed, its reputation reset), anything short of real evidence changes nothing."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ContractRevert
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement
from llmnet.signing import Response, SignedMessage, SigningDomain, SpotCheck, sign
from llmnet.types import ProviderProfile
from tests.conftest import TEST_PARAMS
from tests.integration.chain_checks import refused

pytestmark = pytest.mark.integration

WEIGHTS = "0x" + "ab" * 32
CLAIMED = "0x" + "11" * 32
RECOMPUTED = "0x" + "22" * 32
REQUEST = "0x" + "33" * 32
FEE = 10**13


def signing(ledger: Web3Ledger) -> SigningDomain:
    return SigningDomain(chain_id=ledger.chain_id, verifying_contract=ledger.deployment.escrow)


def setup(ledger: Web3Ledger, gov: LocalAccount, respondent: LocalAccount, validators: list[LocalAccount]) -> None:
    """A registered respondent with some reputation in 'general', and staked validators."""
    profile = ProviderProfile(endpoint="http://127.0.0.1:8401", domains=("general",), model_id="smollm2",
                              weights_hash=WEIGHTS, model_version="1", licence="Apache-2.0")  # fmt: skip
    ledger.register_provider(profile, 2 * TEST_PARAMS.min_stake, respondent)
    for v in validators:
        ledger.register_validator("http://127.0.0.1:8501", "judge", "0x" + "00" * 32,
                                  TEST_PARAMS.validator_min_stake, v)  # fmt: skip
    ledger.set_settler(gov.address, True, gov)
    ledger.deposit(FEE, gov)
    task = ledger.open_task("general", "0x" + "55" * 32, 1, ledger.now() + 3600, FEE, gov).value
    assert task is not None
    outcome = TaskOutcome(task_id=task, domain="general", fee=FEE, requester=gov.address, coordinator=gov.address,
                          scores={respondent.address: 1.0}, validators=(), receipt_hash="0x" + "44" * 32)  # fmt: skip
    ledger.settle_batch(plan_settlement([outcome], FeeSplit(), ledger.decay), gov)
    assert ledger.reputation(respondent.address, "general").count == 1


def response(ledger: Web3Ledger, respondent: LocalAccount, **overrides: object) -> SignedMessage[Response]:
    fields: dict[str, object] = {
        "task_id": 7, "respondent": respondent.address, "content_hash": CLAIMED, "model_id": "smollm2",
        "weights_hash": WEIGHTS, "round": 0, "prompt_tokens": 10, "completion_tokens": 20, "request_hash": REQUEST,
    }  # fmt: skip
    return sign(Response.parse(fields | overrides), respondent, signing(ledger))


def attest(
    ledger: Web3Ledger, r: SignedMessage[Response], v: LocalAccount, recomputed: str = RECOMPUTED
) -> SignedMessage[SpotCheck]:
    m = r.message
    check = SpotCheck(task_id=m.task_id, respondent=m.respondent, request_hash=m.request_hash,
                      weights_hash=m.weights_hash, claimed_hash=m.content_hash, recomputed_hash=recomputed,
                      validator=v.address)  # fmt: skip
    return sign(check, v, signing(ledger))


def test_enough_attested_mismatches_convict_slash_and_reset(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    respondent, v1, v2, reporter = accounts[0], accounts[5], accounts[6], accounts[7]
    setup(ledger, governance, respondent, [v1, v2])
    r = response(ledger, respondent)
    receipt = ledger.convict(r, [attest(ledger, r, v1), attest(ledger, r, v2)], reporter)  # anyone may report
    info = ledger.get_provider(respondent.address)
    assert (info.stake, info.unstaking) == (0, 0)
    assert ledger.reputation(respondent.address, "general").count == 0
    assert ledger.is_convicted(7, respondent.address, 0)
    logs = ledger.escrow.events.RespondentConvicted().get_logs(from_block=receipt.block_number)
    assert logs[0]["args"]["slashed"] == 2 * TEST_PARAMS.min_stake and logs[0]["args"]["attestors"] == 2
    with refused(ledger, ContractRevert, "this response was already convicted"):
        ledger.convict(r, [attest(ledger, r, v1), attest(ledger, r, v2)], reporter)


def test_anything_short_of_evidence_is_refused_and_changes_nothing(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    respondent, v1, v2, stranger = accounts[0], accounts[5], accounts[6], accounts[8]
    setup(ledger, governance, respondent, [v1, v2])
    r = response(ledger, respondent)
    with refused(ledger, ContractRevert, "not enough validators attest the mismatch"):
        ledger.convict(r, [attest(ledger, r, v1)], stranger)
    with refused(ledger, ContractRevert, "a validator attested twice"):
        ledger.convict(r, [attest(ledger, r, v1), attest(ledger, r, v1)], stranger)
    with refused(ledger, ContractRevert, "an attestation is not from a registered validator"):
        ledger.convict(r, [attest(ledger, r, v1), attest(ledger, r, stranger)], stranger)
    with refused(ledger, ContractRevert, "an attestation found the same output"):
        ledger.convict(r, [attest(ledger, r, v1), attest(ledger, r, v2, recomputed=CLAIMED)], stranger)
    forged = SignedMessage(message=r.message, signature=attest(ledger, r, v2).signature, signer=v2.address)
    with refused(ledger, ContractRevert, "the response is not signed by its respondent"):
        ledger.convict(forged, [attest(ledger, r, v1), attest(ledger, r, v2)], stranger)  # type: ignore[arg-type]
    other = response(ledger, respondent, weights_hash="0x" + "cd" * 32)  # not what it registered
    with refused(ledger, ContractRevert, "the response names other weights than the respondent registered"):
        ledger.convict(other, [attest(ledger, other, v1), attest(ledger, other, v2)], stranger)
    lying = attest(ledger, r, v2)
    lying = SignedMessage(message=lying.message.model_copy(update={"recomputed_hash": "0x" + "66" * 32}),
                          signature=lying.signature, signer=v2.address)  # fmt: skip
    with refused(ledger, ContractRevert, "an attestation is not signed by its validator"):
        ledger.convict(r, [attest(ledger, r, v1), lying], stranger)
    assert ledger.get_provider(respondent.address).stake == 2 * TEST_PARAMS.min_stake
