"""Options shared by command groups, and turning them into Settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from llmnet.config import Settings, load_settings
from llmnet.errors import ConfigError
from llmnet.types import ether as ether  # re-exported: every command group formats amounts with it

RpcUrl = Annotated[
    str | None,
    typer.Option("--rpc-url", help="Ethereum JSON-RPC URL; default: the embedded node", envvar="LLMNET_RPC_URL"),
]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="llmnet state directory (default ~/.llmnet)", envvar="LLMNET_DATA_DIR"),
]
Port = Annotated[int | None, typer.Option("--port", help="port of the embedded node on 127.0.0.1")]


def settings(**flags: Any) -> Settings:
    return load_settings(**flags)


def requester_key(key: str | None, data_dir: Path | None, url: str | None = None) -> str:
    """The API key given, else ``$LLMNET_API_KEY``, else the key `llmnet keys login` kept for the
    coordinator at ``url``, else the key `llmnet up` wrote for its requester."""
    key = key or os.environ.get("LLMNET_API_KEY")
    if key is not None:
        return key
    root = settings(data_dir=data_dir).data_dir
    if url is not None:
        from llmnet.cli.login import coordinator_base, key_file

        logged_in = key_file(root, coordinator_base(url))
        if logged_in.exists():
            return logged_in.read_text().strip()
    up_key = root / "network" / "requester.key"
    if not up_key.exists():
        raise ConfigError(
            "no API key: pass --key, set LLMNET_API_KEY, sign in with `llmnet keys login --coordinator URL`, "
            "or start a network with `llmnet up`"
        )
    return up_key.read_text().strip()
