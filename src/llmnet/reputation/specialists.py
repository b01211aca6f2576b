"""Where newcomers start: a provider registered for one domain alone goes before generalists new to it."""

from __future__ import annotations

from collections.abc import Sequence

from llmnet.reputation.beta import RepState  # noqa: F401 - in the doctest
from llmnet.types import Candidate


def specialists_first(ranked: Sequence[Candidate], specialists: frozenset[str]) -> list[Candidate]:
    """``ranked`` with its newcomers (no rated answer yet) reordered among the places they hold so
    that specialists of the domain come before generalists: a provider that registered for this
    domain alone does not start behind a general model new to it. Proven candidates keep their
    places, so exploration still happens where the policy put it.

    >>> a, b, c = (Candidate(x, 1, RepState(0, 0, 0)) for x in "abc")
    >>> [x.provider for x in specialists_first([a, b, c], frozenset({"c"}))]
    ['c', 'a', 'b']
    """
    places = [i for i, c in enumerate(ranked) if c.reputation.count == 0]
    newcomers = sorted((ranked[i] for i in places), key=lambda c: c.provider not in specialists)
    out = list(ranked)
    for i, c in zip(places, newcomers, strict=True):
        out[i] = c
    return out
