"""``llmnet serve ROLE --config FILE`` and ``llmnet init ROLE``: run one role of the network.

llmnet init respondent --out respondent.toml --new-key    # a commented example and a keystore
llmnet serve respondent --config respondent.toml --public-url http://203.0.113.7:8470
"""

from __future__ import annotations

import os
import signal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from llmnet.errors import ConfigError

# the flags that override a config file's fields (after its environment variables)
RpcUrlFlag = Annotated[str | None, typer.Option("--rpc-url", help="Ethereum JSON-RPC URL")]
DeploymentFlag = Annotated[str | None, typer.Option("--deployment", help="the deployment's TaskEscrow address")]
BindFlag = Annotated[str | None, typer.Option("--bind", help="HOST:PORT to listen on, e.g. 0.0.0.0:8470")]
PublicUrlFlag = Annotated[
    str | None, typer.Option("--public-url", help="the URL others reach this service at (registered on chain)")
]
DevFlag = Annotated[
    int | None, typer.Option("--dev", help="sign with development account N (local development chains only)")
]
DataDirFlag = Annotated[Path | None, typer.Option("--data-dir", help="where the service keeps its state")]
NameFlag = Annotated[str | None, typer.Option("--name", help="the service's name (default: the role)")]


class Role(StrEnum):
    respondent = "respondent"
    validator = "validator"
    coordinator = "coordinator"


RoleArg = Annotated[Role, typer.Argument(help="respondent, validator or coordinator")]


def serve(
    role: RoleArg,
    config: Annotated[Path, typer.Option("--config", "-c", help="the role's config file (`llmnet init ROLE`)")],
    rpc_url: RpcUrlFlag = None,
    deployment: DeploymentFlag = None,
    bind: BindFlag = None,
    public_url: PublicUrlFlag = None,
    dev: DevFlag = None,
    data_dir: DataDirFlag = None,
) -> None:
    """Run one role of the network from its config file until SIGTERM or Ctrl-C.

    Fields come from the file, then LLMNET_<ROLE>_<FIELD> variables, then these flags.

    Example: llmnet serve respondent --config respondent.toml --bind 0.0.0.0:8470 --public-url http://203.0.113.7:8470
    """
    from llmnet.chain.network import connect
    from llmnet.roles.config import load_role_config
    from llmnet.roles.serve import run_service

    flags = {"rpc_url": rpc_url, "deployment": deployment, "bind": bind, "public_url": public_url, "dev": dev,
             "data_dir": str(data_dir.resolve()) if data_dir else None}  # fmt: skip
    settings = load_role_config(role.value, config, flags=flags)
    url = settings.rpc()
    chain_id = connect(url).eth.chain_id
    spec = settings.spec(chain_id)
    typer.echo(f"{role.value} {spec.name}: listening on {spec.host}:{spec.port}, reached at {spec.url}; "
               f"chain {chain_id} at {url}", err=True)  # fmt: skip
    stopped_by = run_service(role.value, spec)
    typer.echo(f"{role.value} {spec.name} stopped ({', '.join(signal.Signals(s).name for s in stopped_by)})", err=True)


def init(
    role: RoleArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="the file to write (default: ROLE.toml)")] = None,
    new_key: Annotated[
        bool, typer.Option("--new-key", help="also create a keystore beside it (password: $LLMNET_KEYSTORE_PASSWORD)")
    ] = False,
    keystore: Annotated[Path | None, typer.Option("--keystore", help="an existing keystore to sign with")] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite the file if it exists")] = False,
    name: NameFlag = None,
    rpc_url: RpcUrlFlag = None,
    deployment: DeploymentFlag = None,
    bind: BindFlag = None,
    public_url: PublicUrlFlag = None,
    dev: DevFlag = None,
) -> None:
    """Write a commented example config for ROLE; the flags given fill in its placeholders.

    As written it runs on a local development chain; for any other, give a keystore (--new-key).

    Example: llmnet init respondent --out law.toml --new-key --rpc-url http://10.0.0.2:8545 --deployment 0x…
    """
    from llmnet.roles.config import InitValues, render

    path = out or Path(f"{role.value}.toml")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; choose another --out, or pass --force to overwrite it")
    if sum((new_key, keystore is not None, dev is not None)) > 1:
        raise ConfigError("choose one account: --new-key, --keystore FILE or --dev N")
    written_key = _new_keystore(path) if new_key else _relative(keystore, path) if keystore else None
    values: dict[str, Any] = {"name": name, "rpc_url": rpc_url, "deployment": deployment, "bind": bind,
                              "public_url": public_url, "dev": dev, "keystore": written_key}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(InitValues(role=role.value, file=path, **values)), encoding="utf-8")
    typer.echo(f"wrote {path}; run it with: llmnet serve {role.value} --config {path}")


def _new_keystore(config: Path) -> str:
    """A new keystore beside ``config`` (its name as the file writes it); its address is printed."""
    from llmnet.keys import PASSWORD_ENV, create_keystore

    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise ConfigError(f"set {PASSWORD_ENV} to the password for the new keystore, then run this again")
    target = config.parent / f"{config.stem}-key.json"
    address = create_keystore(target, password)
    typer.echo(f"created keystore {target} for account {address}: fund it before it stakes")
    return target.name


def _relative(keystore: Path, config: Path) -> str:
    """The keystore's path as the config file names it: relative to the file's folder."""
    return os.path.relpath(keystore.resolve(), config.resolve().parent)
