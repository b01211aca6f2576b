"""Backends by name: built-in ones register here exactly like third-party ones."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from llmnet.backends.base import Backend
from llmnet.errors import ConfigError, InputError

BackendFactory = Callable[..., Backend]

_FACTORIES: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``create_backend(name, **options)`` call ``factory(**options)``; re-registering replaces."""
    if not name:
        raise InputError("a backend needs a non-empty name")
    _FACTORIES[name] = factory


def backend_names() -> list[str]:
    return sorted(_FACTORIES)


def create_backend(name: str, **options: object) -> Backend:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ConfigError(_unknown_message(name)) from None
    return factory(**options)


def _unknown_message(name: str) -> str:
    message = f"unknown backend {name!r}; known backends: {', '.join(backend_names()) or 'none'}"
    close = difflib.get_close_matches(name, _FACTORIES, n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return message
