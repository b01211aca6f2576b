"""Each role's config file: typed, layered (file < environment < flags), turned into the spec its
service runs from (``llmnet serve ROLE --config FILE``; ``llmnet init ROLE`` writes an example).

    config = load_role_config("respondent", Path("respondent.toml"), flags={"bind": "0.0.0.0:8401"})
    spec = config.spec(chain_id=31337)  # a RespondentSpec
"""

from llmnet.roles.config.layers import env_prefix, load_role_config
from llmnet.roles.config.services import (
    CONFIGS,
    ROLES,
    CoordinatorConfig,
    RespondentConfig,
    RoleConfig,
    ValidatorConfig,
)
from llmnet.roles.config.templates import InitValues, render

__all__ = [
    "CONFIGS",
    "ROLES",
    "CoordinatorConfig",
    "InitValues",
    "RespondentConfig",
    "RoleConfig",
    "ValidatorConfig",
    "env_prefix",
    "load_role_config",
    "render",
]
