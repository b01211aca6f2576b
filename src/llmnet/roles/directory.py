"""Who is in the network, as the coordinator sees it: candidates and endpoints per domain, the
validator book (weights, addresses, judges, and which validators are in good standing: those
asked to rate), and requesters' escrowed funds, read from the chain and cached (a stale entry is
served while one background refresh replaces it). Nothing here is a static list: a provider or
validator that joins or leaves is seen within one refresh (``ttl_s``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmnet.chain.ledger import Ledger
from llmnet.reputation.trust import TrustRule, validator_weights
from llmnet.types import Candidate, ValidatorInfo

RULE = TrustRule()
REFRESH_S = 2.0  # how old a read of the chain may get before it is refreshed: one directory refresh


class Directory:
    """Candidates and endpoints per domain, read from the chain and cached.

    A stale entry (older than ``ttl_s``) is still served while one background refresh
    replaces it, so requests never wait on the chain once a domain has been read.
    """

    def __init__(self, ledger: Ledger, ttl_s: float = REFRESH_S) -> None:
        self.ledger, self.ttl_s = ledger, ttl_s
        self._cache: dict[str, tuple[float, Any]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def _cached(self, key: str, load: Callable[[], Any]) -> Any:
        hit = self._cache.get(key)
        if hit is None:
            value = load()
            self._cache[key] = (time.monotonic(), value)
            return value
        if time.monotonic() - hit[0] > self.ttl_s:
            with self._lock:
                start = key not in self._refreshing
                self._refreshing.add(key)
            if start:
                threading.Thread(target=self._refresh, args=(key, load), daemon=True).start()
        return hit[1]

    def _refresh(self, key: str, load: Callable[[], Any]) -> None:
        try:
            self._cache[key] = (time.monotonic(), load())
        except Exception:  # keep serving the last good value; the next request retries
            pass
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def domains(self) -> list[str]:
        result: list[str] = self._cached("domains", self.ledger.domains)
        return result

    def candidates(self, domain: str) -> list[Candidate]:
        def load() -> list[Candidate]:
            return [c for c in self.ledger.candidates(domain) if c.stake >= self.ledger.min_stake]

        result: list[Candidate] = self._cached(f"candidates:{domain}", load)
        return result

    def specialists(self, domain: str) -> frozenset[str]:
        """Providers registered in ``domain`` alone: they start ahead of generalists new to it."""

        def load() -> frozenset[str]:
            return frozenset(p.address for p in self.ledger.providers(domain) if len(p.profile.domains) == 1)

        result: frozenset[str] = self._cached(f"specialists:{domain}", load)
        return result

    def funds(self, requester: str, spender: str) -> int:
        """What ``spender`` may still open for ``requester``: min(deposit, allowance), cached."""

        def load() -> int:
            return min(self.ledger.deposit_of(requester), self.ledger.allowance(requester, spender))

        result: int = self._cached(f"funds:{requester}", load)
        return result

    def known_endpoint(self, provider: str) -> str | None:
        """The endpoint if already read (no chain call, so no thread hop needed); one older than a
        refresh is still served while it is read again, so a provider that moves is followed."""
        if f"endpoint:{provider}" not in self._cache:
            return None
        return self.endpoint(provider)

    def endpoint(self, provider: str) -> str:
        result: str = self._cached(f"endpoint:{provider}", lambda: self.ledger.get_provider(provider).profile.endpoint)
        return result

    def validator_book(self) -> ValidatorBookView:
        """The validator book, read once per refresh for everything the coordinator asks of it."""

        def load() -> ValidatorBookView:
            book = self.ledger.validators()
            return ValidatorBookView.of(book, self.ledger.validator_min_stake if book else 0)

        result: ValidatorBookView = self._cached("validators", load)
        return result

    def validator_weights(self) -> dict[str, float]:
        """stake x trust of every validator in the validator book, cached like the rest."""
        return self.validator_book().weights

    def active_validators(self) -> list[str]:
        """The endpoints of the validators in good standing (staked at least the minimum, not
        unstaking): those asked to rate. One that joins or leaves is seen within a refresh."""
        return list(self.validator_book().active)

    def validator_address(self, endpoint: str) -> str:
        """The address a validator registered with ``endpoint``, or the endpoint when none did."""
        return self.validator_addresses().get(endpoint.rstrip("/"), endpoint)

    def judge_weights(self) -> dict[str, str]:
        """Validator endpoint -> sha256 of the weights its judge runs (the zero hash when unknown)."""
        return self.validator_book().judges

    def validator_addresses(self) -> dict[str, str]:
        """Validator endpoint -> its address in the validator book (whom a rating assignment is for)."""
        return self.validator_book().addresses

    def knows(self, domain: str) -> bool:
        """Whether what ranking the domain reads (its candidates and specialists) is cached, so
        ranking needs no chain call."""
        return f"candidates:{domain}" in self._cache and f"specialists:{domain}" in self._cache

    def served_domains(self) -> list[str]:
        return [d for d in self.domains() if self.candidates(d)]


@dataclass(frozen=True)
class ValidatorBookView:
    """What the coordinator reads from the validator book, derived once per read."""

    weights: dict[str, float]  # address -> stake x trust, every validator
    addresses: dict[str, str]  # endpoint -> address, every validator
    judges: dict[str, str]  # endpoint -> judge weights hash, every validator
    active: tuple[str, ...]  # endpoints of the validators in good standing, in the book's order

    @classmethod
    def of(cls, book: list[ValidatorInfo], min_stake: int) -> ValidatorBookView:
        weights = validator_weights({v.address: v.stake for v in book}, {v.address: v.trust for v in book}, RULE)
        return cls(
            weights=weights,
            addresses={v.endpoint.rstrip("/"): v.address for v in book},
            judges={v.endpoint.rstrip("/"): v.judge_weights_hash for v in book},
            active=tuple(v.endpoint.rstrip("/") for v in book if v.in_good_standing(min_stake)),
        )
