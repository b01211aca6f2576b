"""Spot-check re-execution with real llama.cpp models on a real chain: an honest SmolLM2
respondent is reproduced exactly and keeps its stake; a respondent that registered SmolLM2's
weights but serves Gemma-3-270M is caught by two validators re-running the request and is
convicted on chain. The same holds for a trained expert's GGUF LoRA adapter, which validators
fetch by hash from the respondent that registered it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from llmnet.backends.adversarial import ImpostorBackend
from llmnet.backends.base import Backend
from llmnet.backends.llamacpp import LlamaCppBackend, smollm2_path
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.roles.common import signing_domain
from llmnet.roles.protocol import Message, RespondPayload, RespondRequest
from llmnet.roles.respondent import Respondent
from llmnet.roles.spotcheck import Reproducer, SpotChecker, convict_if_attested
from llmnet.roles.weights_cache import WeightsCache
from llmnet.signing import Response, SignedMessage, TaskAssignment, sign
from llmnet.types import ProviderProfile
from tests.adapters import make_lora_adapter
from tests.conftest import TEST_PARAMS

pytestmark = pytest.mark.integration

QUESTIONS = ["What is the capital of France?", "Name a planet with rings."]


def register(ledger: Web3Ledger, account: LocalAccount, backend: Backend, port: int = 8401) -> str:
    endpoint = f"http://127.0.0.1:{port}"
    profile = ProviderProfile(endpoint=endpoint, domains=("general",), model_id=backend.model_id,
                              weights_hash="0x" + str(backend.weights_sha256), model_version="1",
                              licence="")  # fmt: skip
    ledger.register_provider(profile, TEST_PARAMS.min_stake, account)
    return endpoint


def answer(ledger: Web3Ledger, respondent: Respondent, coordinator: LocalAccount, task: int, question: str
           ) -> tuple[SignedMessage[Response], RespondPayload]:  # fmt: skip
    payload = RespondPayload(messages=[Message(role="user", content=question)], max_tokens=24)
    assignment = TaskAssignment(task_id=task, coordinator=coordinator.address, respondent=respondent.account.address,
                                content_hash=payload.digest(), round=0, deadline=int(time.time()) + 600)  # fmt: skip
    reply = respondent.respond(RespondRequest(assignment=sign(assignment, coordinator, respondent.domain).to_dict(),
                                              payload=payload))  # fmt: skip
    return SignedMessage.from_dict(reply.response, Response), payload


def test_an_honest_model_is_reproduced_and_an_impostor_is_convicted(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    honest_acct, impostor_acct, coordinator, v1, v2, reporter = (accounts[i] for i in (0, 1, 7, 5, 6, 8))
    domain = signing_domain(ledger)
    smollm2 = LlamaCppBackend(model="smollm2", n_threads=2)
    gemma = LlamaCppBackend(model="gemma3-270m", mode="completion", n_threads=1)
    honest = Respondent(smollm2, honest_acct, domain, frozenset({coordinator.address}))
    impostor = Respondent(ImpostorBackend(gemma, smollm2), impostor_acct, domain, frozenset({coordinator.address}))
    register(ledger, honest_acct, smollm2)
    register(ledger, impostor_acct, impostor.backend)  # it registers SmolLM2's weights
    for v in (v1, v2):
        ledger.register_validator("http://127.0.0.1:8501", "judge", "0x" + "00" * 32,
                                  TEST_PARAMS.validator_min_stake, v)  # fmt: skip
    reproducer = Reproducer(n_threads=1)  # the validators' own runs: other thread counts, same weights
    checkers = [SpotChecker(reproducer, v, domain) for v in (v1, v2)]

    for task, question in enumerate(QUESTIONS):
        response, payload = answer(ledger, honest, coordinator, task, question)
        assert [c.check(response, payload) for c in checkers] == [None, None]  # reproduced exactly
    assert ledger.get_provider(honest_acct.address).stake == TEST_PARAMS.min_stake

    response, payload = answer(ledger, impostor, coordinator, 100, QUESTIONS[0])
    attestations = [c.check(response, payload) for c in checkers]
    assert all(a is not None for a in attestations)
    first = attestations[0]
    assert first is not None
    print(f"impostor's answer hash {response.message.content_hash}, re-run {first.message.recomputed_hash}")
    receipt = convict_if_attested(ledger, response, attestations, reporter, quorum=ledger.spot_quorum)
    assert receipt is not None
    assert ledger.get_provider(impostor_acct.address).stake == 0
    assert ledger.get_provider(honest_acct.address).stake == TEST_PARAMS.min_stake  # no honest party slashed


@pytest.fixture(scope="module")
def lora_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_lora_adapter(tmp_path_factory.mktemp("expert") / "adapter.gguf")


def weights_server(files_at: dict[str, dict[str, Path]]) -> httpx.MockTransport:
    """``GET <endpoint>/v1/weights/<sha256>`` for each endpoint's files, as a respondent serves them."""

    def handler(request: httpx.Request) -> httpx.Response:
        files = files_at.get(f"{request.url.scheme}://{request.url.host}:{request.url.port}", {})
        path = files.get(request.url.path.removeprefix("/v1/weights/"))
        return httpx.Response(200, content=path.read_bytes()) if path else httpx.Response(404)

    return httpx.MockTransport(handler)


def test_an_adapter_fetched_by_hash_is_reproduced_and_an_impostor_under_its_name_is_convicted(
    ledger: Web3Ledger, accounts: list[LocalAccount], lora_adapter: Path, tmp_path: Path
) -> None:
    expert_acct, impostor_acct, liar_acct, coordinator, v1, v2, reporter = (accounts[i] for i in (0, 1, 2, 7, 5, 6, 8))
    domain = signing_domain(ledger)
    expert = LlamaCppBackend(model="smollm2", n_threads=2, lora=lora_adapter)
    base = LlamaCppBackend(model="smollm2", n_threads=2)
    assert expert.weights_sha256 != base.weights_sha256 == expert.base_sha256
    trusted = frozenset({coordinator.address})
    honest = Respondent(expert, expert_acct, domain, trusted)
    impostor = Respondent(ImpostorBackend(base, expert), impostor_acct, domain, trusted)  # the base, the adapter's name
    liar = Respondent(expert, liar_acct, domain, trusted)
    endpoints = {}
    for port, (acct, respondent) in enumerate([(expert_acct, honest), (impostor_acct, impostor), (liar_acct, liar)]):
        endpoints[acct.address] = register(ledger, acct, respondent.backend, port=8401 + port)
    decoy = tmp_path / "decoy.gguf"
    decoy.write_bytes(b"GGUF" + lora_adapter.read_bytes()[4:-1])
    served = {endpoints[expert_acct.address]: expert.weight_files(),
              endpoints[impostor_acct.address]: impostor.backend.weight_files(),
              endpoints[liar_acct.address]: {str(expert.weights_sha256): decoy}}  # fmt: skip
    for v in (v1, v2):
        ledger.register_validator("http://127.0.0.1:8501", "judge", "0x" + "00" * 32,
                                  TEST_PARAMS.validator_min_stake, v)  # fmt: skip
    cache = WeightsCache(tmp_path / "weights", transport=weights_server(served))
    reproducer = Reproducer(1, weights=cache, endpoint_of=lambda who: ledger.get_provider(who).profile.endpoint)
    checkers = [SpotChecker(reproducer, v, domain) for v in (v1, v2)]

    response, payload = answer(ledger, honest, coordinator, 1, QUESTIONS[0])
    assert [c.check(response, payload) for c in checkers] == [None, None]  # fetched, verified, reproduced exactly
    assert cache.cached(str(expert.weights_sha256)) is not None
    assert reproducer.weights_for(response.message) == (smollm2_path(), cache.path(str(expert.weights_sha256)))

    lied, payload = answer(ledger, liar, coordinator, 2, QUESTIONS[1])
    assert [c.check(lied, payload) for c in checkers] == [None, None]  # other bytes under the hash: not re-run

    response, payload = answer(ledger, impostor, coordinator, 3, QUESTIONS[0])
    attestations = [c.check(response, payload) for c in checkers]
    assert all(a is not None for a in attestations)
    assert convict_if_attested(ledger, response, attestations, reporter, quorum=ledger.spot_quorum) is not None
    assert ledger.get_provider(impostor_acct.address).stake == 0
    assert ledger.get_provider(expert_acct.address).stake == TEST_PARAMS.min_stake
