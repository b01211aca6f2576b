"""Run one service process until SIGTERM or SIGINT: every role's one way in.

``llmnet serve ROLE --config FILE`` builds the spec from an operator's config file (see
:mod:`llmnet.roles.config`); the launcher (``llmnet up``) writes the spec itself and runs
``python -m llmnet.roles.serve ROLE SPEC.json``. Both end in :func:`run_service`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from llmnet.api.openai_app import CoordinatorSpec, create_coordinator_app
from llmnet.api.server import serve
from llmnet.roles.common import ServiceSpec
from llmnet.roles.respondent import RespondentSpec, create_respondent_app
from llmnet.roles.validator import ValidatorSpec, create_validator_app

ROLES: dict[str, tuple[type[BaseModel], Any]] = {
    "respondent": (RespondentSpec, create_respondent_app),
    "validator": (ValidatorSpec, create_validator_app),
    "coordinator": (CoordinatorSpec, create_coordinator_app),
}


def run_service(role: str, spec: ServiceSpec) -> None:
    """Serve ``role`` from ``spec`` on its host and port until the process is told to stop; its
    app's shutdown (the lifespan's end) runs before this returns."""
    _, factory = ROLES[role]
    serve(factory(spec), spec.host, spec.port, spec.http)


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in ROLES:
        sys.exit(f"usage: python -m llmnet.roles.serve {{{'|'.join(ROLES)}}} SPEC.json")
    spec_cls, _ = ROLES[argv[0]]
    spec = spec_cls.model_validate_json(Path(argv[1]).read_text())
    assert isinstance(spec, ServiceSpec)
    run_service(argv[0], spec)


if __name__ == "__main__":
    main(sys.argv[1:])
