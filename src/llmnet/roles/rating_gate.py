"""Who may ask a validator to rate: a coordinator in good standing on chain, for answers of
registered respondents.

Rating runs the judge and adds the signed ratings to the validator's commit-reveal log, so
nobody else may start it. A rate request is admitted only when

- it carries a ``RatingAssignment`` signed by a coordinator registered on chain in good standing
  (see :mod:`llmnet.roles.admission`; the validator's ``trusted_coordinators``, when not empty,
  restrict that), addressed to this validator, for this task and round;
- the assignment's deadline has not passed and is not further ahead than the replay guard
  remembers, and the assignment was not accepted before;
- the assignment's content hash is the request's digest (question, reference, every answer);
- every answer's ``Response`` is signed by the respondent it names, over exactly that text,
  for the assignment's task, and that respondent is registered on chain.

A refusal raises before anything is judged or logged: :class:`SignatureError` (403) for a
signer that is not allowed, :class:`InputError` (400) for a request that does not match.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from llmnet.errors import InputError, SignatureError
from llmnet.roles.admission import CachedCheck, Coordinators, as_coordinators
from llmnet.roles.common import verified
from llmnet.roles.protocol import RateRequest
from llmnet.roles.replay import ReplayGuard
from llmnet.signing import RatingAssignment, Response, SigningDomain, typed_data_hash
from llmnet.store import content_hash

REGISTRATION_TTL_S = 30.0  # how long a respondent's registration, read from the chain, is trusted


class RegisteredProviders:
    """Whether an address is a registered provider, read through ``is_registered`` and cached:
    a registration for ``ttl_s``, an unknown address for a tenth of that (it may register soon)."""

    def __init__(self, is_registered: Callable[[str], bool], ttl_s: float = REGISTRATION_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._registered = CachedCheck(is_registered, ttl_s, clock)

    def require(self, address: str) -> None:
        if not self._registered(address):
            raise SignatureError(f"response signed by {address}, which is not a registered respondent on this chain")


def check_response(data: dict[str, Any], text: str, respondent: str, domain: SigningDomain) -> Response:
    """The verified response of one rated answer: signed by ``respondent``, over exactly ``text``."""
    signed = verified(data, Response, domain)
    if signed.signer != respondent:
        raise SignatureError(f"response claims respondent {respondent} but was signed by {signed.signer}")
    if signed.message.content_hash != content_hash(text.encode()):
        raise InputError(f"the text given for {respondent} is not the text its response signed")
    return signed.message


class RatingGate:
    """Admits rate requests for one validator (see the module docstring). ``coordinators``: those
    it takes work from (:func:`llmnet.roles.admission.on_chain`), or a fixed list of addresses."""

    def __init__(self, validator: str, domain: SigningDomain, coordinators: Coordinators | Iterable[str],
                 providers: RegisteredProviders, replays: ReplayGuard | None = None) -> None:  # fmt: skip
        self.validator, self.domain, self.providers = validator, domain, providers
        self.coordinators = as_coordinators(coordinators)
        self.replays = replays or ReplayGuard()

    def admit(self, req: RateRequest) -> dict[str, Response]:
        """The verified response of each answer, by respondent, once every check has passed."""
        assignment = self._assignment(req)
        responses = {}
        for answer in req.answers:
            response = check_response(answer.response, answer.text, answer.respondent, self.domain)
            if response.task_id != assignment.task_id:
                raise InputError(f"the response of {answer.respondent} is for task {response.task_id}, "
                                 f"not for the assigned task {assignment.task_id}")  # fmt: skip
            self.providers.require(response.respondent)
            responses[answer.respondent] = response
        self.replays.admit(typed_data_hash(assignment, self.domain), assignment.deadline)  # last: all else passed
        return responses

    def _assignment(self, req: RateRequest) -> RatingAssignment:
        if not req.assignment:
            raise SignatureError("a rate request must carry a RatingAssignment signed by a coordinator in good "
                                 "standing on chain")  # fmt: skip
        signed = verified(req.assignment, RatingAssignment, self.domain)
        self.coordinators.require(signed.signer, "rating assignment")
        a = signed.message
        if a.validator != self.validator:
            raise SignatureError(f"rating assignment is addressed to {a.validator}, not to this validator")
        if (a.task_id, a.round) != (req.task_id, req.round):
            raise InputError(f"rating assignment is for task {a.task_id} round {a.round}, "
                             f"the request for task {req.task_id} round {req.round}")  # fmt: skip
        self.replays.check(a.deadline)
        if req.digest() != a.content_hash:
            raise InputError("the rate request does not match its assignment's content hash")
        return a
