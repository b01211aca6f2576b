"""Who may hand out work: coordinators registered on chain.

An open network cannot have every respondent and validator keep a list of the coordinators it
trusts: anyone may run a coordinator, and operators join and leave while the network runs. So a
coordinator registers itself on chain, in the validator book, with a stake (at least the
validators' minimum) and the public URL it serves requesters from (:func:`ensure_coordinator`,
when it starts). Respondents and validators take assignments, and a settler takes outcomes,
from any coordinator registered there and in good standing: staked at least the minimum and not
unstaking (:class:`Coordinators`). An operator's explicit ``trusted_coordinators``, when not
empty, restricts that further.

Why a stake, and not a list governance approves in the escrow: approval would make governance
the gatekeeper of who may run a coordinator; a stake lets anyone join and gives each coordinator
something to lose. A coordinator signs every assignment and every outcome claim, so one that
lies in its claims or floods services with work it never pays for is caught by its own
signatures, and governance can slash it (``slash_coordinator``); one that leaves waits out the
unstaking cooldown, given no work and still slashable. Why the validator book, and not the
provider registry: a coordinator serves no domain and runs no model, and the validator book
already keeps stake with a cooldown for the network's other role that is not a respondent.

The other directions come from the chain as well: a coordinator's validators are every validator
in good standing in the book (:meth:`llmnet.roles.directory.Directory.active_validators`), and
its settler is a validator in good standing that the escrow lists as a settler
(:func:`settler_endpoint`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from llmnet.chain.ledger import Account, Ledger
from llmnet.errors import SignatureError
from llmnet.types import checksum

log = logging.getLogger(__name__)

STANDING_TTL_S = 10.0  # how long a coordinator's standing, read from the chain, is trusted


class CachedCheck:
    """A yes/no question about an address answered by the chain, cached: a yes for ``ttl_s``, a no
    for a tenth of that (the address may register any moment)."""

    def __init__(self, check: Callable[[str], bool], ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.check, self.ttl_s, self.clock = check, ttl_s, clock
        self._known: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def __call__(self, address: str) -> bool:
        now = self.clock()
        with self._lock:
            hit = self._known.get(address)
        if hit is not None and now - hit[0] <= (self.ttl_s if hit[1] else self.ttl_s / 10):
            return hit[1]
        found = bool(self.check(address))
        with self._lock:
            self._known[address] = (now, found)
        return found


class Coordinators:
    """The coordinators a service takes work from (see the module docstring).

    ``standing`` answers whether an address is a coordinator in good standing on chain (it is
    cached); without it only the ``only`` list counts, as in a closed test network.
    ``only``, when not empty, restricts to these addresses (an operator's trusted_coordinators).
    """

    def __init__(self, standing: Callable[[str], bool] | None, only: Iterable[str] = (), *,
                 ttl_s: float = STANDING_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.only = frozenset(checksum(a, "trusted coordinator") for a in only)
        self.standing = CachedCheck(standing, ttl_s, clock) if standing is not None else None

    def require(self, signer: str, what: str) -> None:
        """Raise SignatureError, saying what to do, unless ``signer`` may hand out work here."""
        if self.only and signer not in self.only:
            raise SignatureError(
                f"{what} signed by {signer}, which is not one of this service's trusted_coordinators; add it "
                "there, or leave the list empty to take work from every coordinator in good standing on chain"
            )
        if self.standing is None:
            if not self.only:
                raise SignatureError(f"{what} signed by {signer}, but this service trusts no coordinator")
            return
        if not self.standing(signer):
            raise SignatureError(
                f"{what} signed by {signer}, which is not a coordinator in good standing on chain (registered in "
                "the validator book with at least the minimum stake, and not unstaking); a coordinator registers "
                "itself with its stake when it starts (`llmnet serve coordinator`)"
            )


def as_coordinators(trusted: Coordinators | Iterable[str]) -> Coordinators:
    """``trusted`` as a :class:`Coordinators`; addresses alone are a fixed list with no chain behind it."""
    return trusted if isinstance(trusted, Coordinators) else Coordinators(None, trusted)


def on_chain(ledger: Ledger, trusted: Iterable[str] = (), *, ttl_s: float = STANDING_TTL_S) -> Coordinators:
    """Every coordinator in good standing on ``ledger``'s chain, restricted to ``trusted`` if given."""

    def in_good_standing(address: str) -> bool:
        if not ledger.is_coordinator(address):
            return False
        return ledger.get_coordinator(address).in_good_standing(ledger.validator_min_stake)

    return Coordinators(in_good_standing, trusted, ttl_s=ttl_s)


def ensure_coordinator(ledger: Ledger, account: Account, endpoint: str, stake: int) -> str:
    """Register with ``stake`` on first start, or move the registration to ``endpoint``; returns what was done."""
    if not ledger.is_coordinator(account.address):
        ledger.register_coordinator(endpoint, stake, account)
        return "registered"
    found = ledger.get_coordinator(account.address)
    if not found.in_good_standing(ledger.validator_min_stake):
        log.warning("coordinator %s is not in good standing (stake %d wei, %d wei unstaking): respondents "
                    "and validators refuse its work until it adds stake", account.address, found.stake,
                    found.unstaking)  # fmt: skip
    if found.endpoint != endpoint:
        ledger.update_coordinator(endpoint, account)
        return "updated"
    return "unchanged"


def settler_endpoint(ledger: Ledger) -> str | None:
    """The public URL of the first settler the escrow lists that is a validator in good standing:
    where a coordinator hands over its outcomes. None when the chain names none."""
    minimum = ledger.validator_min_stake
    for who in ledger.settlers():
        if ledger.is_validator(who):
            found = ledger.get_validator(who)
            if found.in_good_standing(minimum):
                return found.endpoint.rstrip("/")
    return None
