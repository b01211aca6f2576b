"""Run one service process: ``python -m llmnet.roles.serve ROLE SPEC.json``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from llmnet.api.openai_app import CoordinatorSpec, create_coordinator_app
from llmnet.api.server import serve
from llmnet.roles.respondent import RespondentSpec, create_respondent_app
from llmnet.roles.validator import ValidatorSpec, create_validator_app

ROLES: dict[str, tuple[Any, Any]] = {
    "respondent": (RespondentSpec, create_respondent_app),
    "validator": (ValidatorSpec, create_validator_app),
    "coordinator": (CoordinatorSpec, create_coordinator_app),
}


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in ROLES:
        sys.exit(f"usage: python -m llmnet.roles.serve {{{'|'.join(ROLES)}}} SPEC.json")
    spec_cls, factory = ROLES[argv[0]]
    spec = spec_cls.model_validate_json(Path(argv[1]).read_text())
    serve(factory(spec), spec.host, spec.port, spec.http)


if __name__ == "__main__":
    main(sys.argv[1:])
