"""Domains learnt from chain: corpora fetched by their cards' URLs and hashes, served here through
httpx's MockTransport; the ledger is the in-memory one with the contracts' rules."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from llmnet.chain.memory_ledger import MemoryLedger
from llmnet.errors import CorpusError
from llmnet.experts.corpus import CorpusLimits, corpus_hash_of, pack, parse_packed, verify
from llmnet.experts.corpus_cache import CorpusCache
from llmnet.experts.domain_sources import classifier_from_chain, corpora_for
from llmnet.roles.respondent import served_corpus
from llmnet.types import DomainCard
from tests.unit.test_corpus import write

GOVERNANCE = "0x" + "00" * 19 + "01"
VOLCANO_DOCS = {
    "calderas.md": "# Calderas\n\nThe Ostrava caldera is 14 km wide; its magma chamber lies 6 km deep.\n",
    "vents.md": "# Vents and eruptions\n\nMount Keld's vents emit sulphur; lava flows, ash and eruptions.\n",
}


class Gov:
    address = GOVERNANCE
    key = b"\x01" * 32


class CorpusServer:
    """Serves packed corpora by hash and counts the requests it answered."""

    def __init__(self, folders: dict[str, Path]) -> None:
        self.bodies = {corpus_hash_of(f): pack(f).model_dump_json().encode() for f in folders.values()}
        self.requests = 0
        self.tamper = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        body = self.bodies.get(request.url.path.rsplit("/", 1)[-1])
        if body is None:
            return httpx.Response(404)
        return httpx.Response(200, content=body.replace(b"14 km", b"15 km") if self.tamper else body)


@pytest.fixture
def volcano(tmp_path: Path) -> Path:
    return write(tmp_path / "published" / "volcanology", VOLCANO_DOCS)


def card(folder: Path, domain: str = "volcanology", description: str = "") -> DomainCard:
    h = corpus_hash_of(folder)
    return DomainCard(domain, description, h, f"http://127.0.0.1:8401/v1/corpus/{h}")


def chain_with(*cards: DomainCard, domains: tuple[str, ...] = ("general", "law")) -> MemoryLedger:
    ledger = MemoryLedger(governance=GOVERNANCE, domains=domains)
    for c in cards:
        if c.domain not in ledger.domains():
            ledger.add_domain(c.domain, Gov())
        ledger.set_domain_card(c, Gov())
    return ledger


def test_a_corpus_is_fetched_once_and_then_reused(volcano: Path, tmp_path: Path) -> None:
    server = CorpusServer({"volcanology": volcano})
    cache = CorpusCache(tmp_path / "corpora", transport=httpx.MockTransport(server))
    first = cache.fetch(card(volcano))
    assert first == tmp_path / "corpora" / corpus_hash_of(volcano)[2:]
    assert corpus_hash_of(first) == corpus_hash_of(volcano)
    assert cache.fetch(card(volcano)) == first and server.requests == 1


def test_a_tampered_or_missing_corpus_is_refused_and_nothing_is_kept(volcano: Path, tmp_path: Path) -> None:
    server = CorpusServer({"volcanology": volcano})
    server.tamper = True
    cache = CorpusCache(tmp_path / "corpora", transport=httpx.MockTransport(server))
    with pytest.raises(CorpusError, match="does not match"):
        cache.fetch(card(volcano))
    assert not (tmp_path / "corpora").exists() or list((tmp_path / "corpora").iterdir()) == []
    other = DomainCard("volcanology", "", "0x" + "ab" * 32, "http://127.0.0.1:8401/v1/corpus/0x" + "ab" * 32)
    with pytest.raises(CorpusError, match="HTTP 404"):
        cache.fetch(other)


def test_a_download_past_the_size_cap_is_cut_off(volcano: Path, tmp_path: Path) -> None:
    server = CorpusServer({"volcanology": volcano})
    cache = CorpusCache(
        tmp_path / "c", transport=httpx.MockTransport(server), limits=CorpusLimits(max_bytes=20, max_files=1)
    )
    with pytest.raises(CorpusError, match="larger than 440 bytes"):
        cache.fetch(card(volcano))


def test_an_unreachable_server_is_a_corpus_error(volcano: Path, tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(CorpusError, match=r"cannot be fetched from http://127\.0\.0\.1:8401"):
        CorpusCache(tmp_path / "c", transport=httpx.MockTransport(refuse)).fetch(card(volcano))


def test_the_classifier_learns_a_domain_that_exists_only_on_chain(volcano: Path, tmp_path: Path) -> None:
    local = write(tmp_path / "knowledge" / "law", {"c.md": "# Contracts\n\nA contract needs an offer.\n"})
    ledger = chain_with(card(volcano), domains=("general", "law", "code"))  # "code": neither folder nor card
    cache = CorpusCache(tmp_path / "corpora", transport=httpx.MockTransport(CorpusServer({"v": volcano})))
    classifier = classifier_from_chain(ledger, local.parent, cache)
    assert classifier is not None
    assert set(classifier.examples) == {"general", "law", "volcanology"}
    assert classifier.classify("How wide is the Ostrava caldera?").domain == "volcanology"
    assert classifier.classify("Does a contract need an offer?").domain == "law"


def test_a_description_alone_is_enough_and_an_unreachable_corpus_falls_back_to_it(
    volcano: Path, tmp_path: Path
) -> None:
    described = card(volcano, description="Volcanoes: calderas, magma, lava and eruptions.")
    ledger = chain_with(described)
    cache = CorpusCache(tmp_path / "corpora", transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    classifier = classifier_from_chain(ledger, None, cache)
    assert classifier is not None and set(classifier.examples) == {"general", "volcanology"}
    assert classifier.classify("When does magma become lava in an eruption?").domain == "volcanology"


def test_no_domain_to_learn_gives_no_classifier(tmp_path: Path) -> None:
    assert classifier_from_chain(chain_with(), None, None) is None


def test_corpora_for_gives_the_fetched_folders_of_the_domains_with_one(volcano: Path, tmp_path: Path) -> None:
    ledger = chain_with(card(volcano))
    cache = CorpusCache(tmp_path / "corpora", transport=httpx.MockTransport(CorpusServer({"v": volcano})))
    corpora = corpora_for(["volcanology", "law", "astrology"], ledger, cache)
    assert list(corpora) == ["volcanology"]
    assert (corpora["volcanology"] / "calderas.md").read_text(encoding="utf-8") == VOLCANO_DOCS["calderas.md"]


def test_a_respondent_serves_its_knowledge_folder_packed_or_nothing(
    volcano: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert served_corpus(None) is None
    served = served_corpus(volcano)
    assert served is not None and served[0] == corpus_hash_of(volcano)
    assert verify(parse_packed(served[1]), expected=served[0])
    broken = write(tmp_path / "broken", {"a.md": "fine"})
    (broken / "b.md").write_bytes(b"\xff\xfe not UTF-8")
    assert served_corpus(broken) is None
    assert "is not served as a corpus" in caplog.text


def test_a_grounded_validator_takes_the_corpus_of_a_domain_it_has_no_folder_for_from_its_card(
    volcano: Path, tmp_path: Path
) -> None:
    from llmnet.roles.common import AccountSpec, ChainSpec
    from llmnet.roles.validator import JudgeSpec, ValidatorSpec, with_chain_corpora

    law = write(tmp_path / "law", {"courts.md": "# Courts\n\nA court hears cases.\n"})
    chain = ChainSpec(rpc_url="http://127.0.0.1:1", deployments_file=tmp_path / "d.json")
    spec = ValidatorSpec(name="v", port=9, account=AccountSpec(dev_index=6), chain=chain, data_dir=tmp_path,
                         judge=JudgeSpec(kind="grounded", corpora={"law": law}))  # fmt: skip
    server = CorpusServer({"v": volcano})
    cache = CorpusCache(tmp_path / "corpora", transport=httpx.MockTransport(server))
    judge = with_chain_corpora(spec, chain_with(card(volcano)), cache)
    assert judge.corpora["law"] == law  # its own folder stands
    assert (judge.corpora["volcanology"] / "calderas.md").read_text(encoding="utf-8") == VOLCANO_DOCS["calderas.md"]
    assert "general" not in judge.corpora
    plain = spec.model_copy(update={"judge": JudgeSpec(kind="fake")})
    assert with_chain_corpora(plain, chain_with(card(volcano)), cache).corpora == {}  # only a grounded judge reads
