"""What each domain on chain is learnt from: a folder on this machine, else its card on chain.

The coordinator's classifier (``llmnet/auto``) learns every domain registered on chain, not only
those with a folder under its own ``knowledge_root``: for each domain, the local folder if there is
one, else the corpus its card names (fetched and checked, see :class:`CorpusCache`), and the card's
description. A domain with neither is left out with a warning. Validators call
:func:`corpora_for` at start for the documents of the domains they check answers in.

    classifier = classifier_from_chain(ledger, Path("knowledge"), CorpusCache(data_dir / "corpora"))
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from llmnet.chain.ledger import Ledger
from llmnet.errors import CorpusError
from llmnet.experts.classifier import (
    DEFAULT_THRESHOLD,
    DOMAIN_DESCRIPTIONS,
    GENERAL,
    GENERAL_EXAMPLES,
    DomainClassifier,
)
from llmnet.experts.corpus_cache import CorpusCache
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.types import DomainCard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainSource:
    domain: str
    folder: Path | None  # its documents: a local folder or a fetched corpus
    description: str = ""  # from its card on chain

    def examples(self) -> list[str]:
        """The texts the classifier learns the domain from."""
        texts = [*DOMAIN_DESCRIPTIONS.get(self.domain, ()), *([self.description] if self.description else [])]
        if self.folder is not None:
            texts += [f"{p.title}. {p.text}" for p in KnowledgeBase.from_folder(self.folder).passages]
        return texts


def domain_sources(ledger: Ledger, knowledge_root: Path | None, cache: CorpusCache | None) -> Iterator[DomainSource]:
    """Every domain on chain besides ``general`` that has documents or a description."""
    for card in ledger.domain_cards():
        if card.domain == GENERAL:
            continue
        local = knowledge_root / card.domain if knowledge_root is not None else None
        folder = local if local is not None and local.is_dir() else fetched(card, cache)
        if folder is None and not card.description:
            here = f"no folder under {knowledge_root}" if knowledge_root is not None else "no local folder"
            log.warning("domain %r has %s and no card on chain: llmnet/auto leaves it out; "
                        "`llmnet domains card` publishes one", card.domain, here)  # fmt: skip
            continue
        yield DomainSource(card.domain, folder, card.description)


def fetched(card: DomainCard, cache: CorpusCache | None) -> Path | None:
    """The card's corpus, or None (with a warning) when there is none or it cannot be had."""
    if cache is None or not card.has_corpus:
        return None
    try:
        return cache.fetch(card)
    except CorpusError as exc:
        log.warning("domain %r goes without its documents: %s", card.domain, exc)
        return None


def classifier_from_chain(
    ledger: Ledger, knowledge_root: Path | None, cache: CorpusCache | None, threshold: float = DEFAULT_THRESHOLD
) -> DomainClassifier | None:
    """A classifier over every domain on chain that can be learnt; None when there is none to learn."""
    examples = {source.domain: source.examples() for source in domain_sources(ledger, knowledge_root, cache)}
    if not examples:
        log.warning("no domain besides %r can be learnt: llmnet/auto sends every question there", GENERAL)
        return None
    return DomainClassifier.fit({**examples, GENERAL: list(GENERAL_EXAMPLES)}, threshold)


def corpora_for(domains: Iterable[str], ledger: Ledger, cache: CorpusCache) -> dict[str, Path]:
    """The fetched corpus folder of each of ``domains`` whose card names one (for a validator's judge)."""
    cards = {card.domain: card for card in ledger.domain_cards()}
    corpora: dict[str, Path] = {}
    for domain in domains:
        card = cards.get(domain)
        folder = fetched(card, cache) if card is not None else None
        if folder is None:
            log.warning("no corpus for domain %r: its answers are judged without its documents", domain)
            continue
        corpora[domain] = folder
    return corpora
