"""Run one service process until SIGTERM or SIGINT: every role's one way in.

``llmnet serve ROLE --config FILE`` builds the spec from an operator's config file (see
:mod:`llmnet.roles.config`); the launcher (``llmnet up``) writes the spec itself and runs
``python -m llmnet.roles.serve ROLE SPEC.json``. Both end in :func:`run_service`.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from llmnet.api.openai_app import CoordinatorSpec, create_coordinator_app
from llmnet.api.server import server_for
from llmnet.errors import ConfigError
from llmnet.roles.common import ServiceSpec
from llmnet.roles.respondent import RespondentSpec, create_respondent_app
from llmnet.roles.validator import ValidatorSpec, create_validator_app

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
ROLES: dict[str, tuple[type[BaseModel], Any]] = {
    "respondent": (RespondentSpec, create_respondent_app),
    "validator": (ValidatorSpec, create_validator_app),
    "coordinator": (CoordinatorSpec, create_coordinator_app),
}


def run_service(role: str, spec: ServiceSpec) -> list[int]:
    """Serve ``role`` from ``spec`` on its host and port until SIGTERM or SIGINT; returns the signals
    that stopped it, once its app has shut down (the lifespan's end), so the process exits 0.

    uvicorn shuts down gracefully on those signals and then raises them again for the handlers it
    found; the handlers installed here take them, instead of the defaults that would kill the process
    (SIGTERM) or raise KeyboardInterrupt (SIGINT) after a clean shutdown."""
    _, factory = ROLES[role]
    server = server_for(factory(spec), spec.host, spec.port, spec.http)
    stopped_by: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: stopped_by.append(signum)) for sig in STOP_SIGNALS}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise ConfigError(f"the {role} {spec.name} did not start on {spec.host}:{spec.port}; its log above says why")
    return stopped_by


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in ROLES:
        sys.exit(f"usage: python -m llmnet.roles.serve {{{'|'.join(ROLES)}}} SPEC.json")
    spec_cls, _ = ROLES[argv[0]]
    spec = spec_cls.model_validate_json(Path(argv[1]).read_text())
    assert isinstance(spec, ServiceSpec)
    run_service(argv[0], spec)


if __name__ == "__main__":
    main(sys.argv[1:])
