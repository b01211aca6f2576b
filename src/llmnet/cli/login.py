"""``llmnet keys login``: an API key from any coordinator, on any chain, by signing in with the account."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import httpx
import typer
from rich.console import Console

from llmnet.api.auth import fetch_nonce, redeem
from llmnet.cli.options import DataDir, settings
from llmnet.cli.wallet.account import Dev, Keystore, PasswordFile, wallet_account
from llmnet.errors import ConfigError, InputError

console = Console(soft_wrap=True)


def coordinator_base(url: str) -> str:
    """``http://host:8300`` from ``http://host:8300``, ``…/`` or the OpenAI base URL ``…/v1``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"coordinator URL {url!r} must be http(s)://host:port, e.g. http://127.0.0.1:8300")
    path = parts.path.rstrip("/").removesuffix("/v1")
    return f"{parts.scheme}://{parts.netloc}{path}"


def key_file(data_dir: Path, base_url: str) -> Path:
    """Where the key for the coordinator at ``base_url`` is kept: one file per coordinator."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", urlsplit(base_url).netloc + urlsplit(base_url).path)
    return data_dir / "api-keys" / f"{name}.key"


def _save(path: Path, api_key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(api_key + "\n")
    os.chmod(path, 0o600)


def login(
    coordinator: Annotated[str, typer.Option("--coordinator", help="the coordinator's URL, e.g. http://10.0.0.5:8300")],
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    out: Annotated[Path | None, typer.Option("--out", help="file to keep the key in (mode 0600)")] = None,
    data_dir: DataDir = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the coordinator")] = 30.0,
) -> None:
    """Get an API key from a coordinator by signing in with your account (Sign-In with Ethereum,
    EIP-4361): works on any chain, nothing is sent on chain. The key is bound to the account: its
    tasks are paid from the account's deposit in the escrow, within what it approved for the
    coordinator (`llmnet escrow deposit` and `llmnet escrow approve`).

    Example: llmnet keys login --coordinator http://10.0.0.5:8300 --keystore alice.json
    """
    base = coordinator_base(coordinator)
    path = out or key_file(settings(data_dir=data_dir).data_dir, base)
    try:
        http = httpx.Client(base_url=base, timeout=timeout)
    except ValueError as exc:
        raise ConfigError(f"cannot reach {base}: {exc}") from None
    with http:
        grant = fetch_nonce(http, base)
        account = wallet_account(grant.chain_id, keystore, password_file, dev)
        granted = redeem(http, base, grant, account, time.time())
    _save(path, granted.api_key)
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(granted.expires))
    console.print(f"signed in to {base} (chain {grant.chain_id}) as {granted.address}", highlight=False)
    console.print(f"api key  {granted.api_key}  (id {granted.key_id}, valid until {until})", highlight=False)
    console.print(f"saved to {path}; use it with LLMNET_API_KEY=$(cat {path})", highlight=False)
    console.print(f"tasks are paid from its deposit: `llmnet escrow deposit 0.1`, then allow this coordinator "
                  f"with `llmnet escrow approve {grant.coordinator} 0.1`", highlight=False)  # fmt: skip
