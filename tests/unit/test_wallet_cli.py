"""What the wallet commands take: amounts, the signing account and the chain, the coordinator's URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnet.chain.network import dev_account
from llmnet.cli.login import coordinator_base, key_file
from llmnet.cli.wallet.account import check_chain, parse_amount, wallet_account
from llmnet.errors import ConfigError, InputError, KeystoreError, WrongChain
from llmnet.keys import create_keystore
from llmnet.types import ETHER, GWEI

KEY = "0x" + "42" * 32


@pytest.mark.parametrize(
    ("text", "wei"),
    [("0.5", ETHER // 2), ("0.5eth", ETHER // 2), ("2 ETH", 2 * ETHER), ("30000gwei", 30_000 * GWEI),
     ("12wei", 12), (".25", ETHER // 4), ("0.000000000000000001", 1)],
)  # fmt: skip
def test_amounts_are_read_exactly(text: str, wei: int) -> None:
    assert parse_amount(text) == wei


@pytest.mark.parametrize(
    ("text", "error"),
    [("-1", "not a number"), ("1e18", "not a number"), ("0.5 dollars", "not a number"), ("0.5wei", "not a whole")],
)
def test_a_bad_amount_says_how_to_write_one(text: str, error: str) -> None:
    with pytest.raises(InputError, match=error):
        parse_amount(text)


def test_a_development_account_only_on_a_development_chain() -> None:
    assert wallet_account(31337, dev=2, env={}) == dev_account(2)
    with pytest.raises(WrongChain, match=r"only a local dev chain .* this node is chain 8453: use --keystore"):
        wallet_account(8453, dev=2, env={})


def test_the_account_comes_from_a_keystore_or_the_environment(tmp_path: Path) -> None:
    store = tmp_path / "alice.json"
    address = create_keystore(store, "pw", KEY, kdf="pbkdf2", kdf_iterations=16)
    password = tmp_path / "password"
    password.write_text("pw\n")
    assert wallet_account(1, keystore=store, password_file=password, env={}).address == address
    assert wallet_account(1, keystore=store, env={"LLMNET_KEYSTORE_PASSWORD": "pw"}).address == address
    assert wallet_account(1, env={"LLMNET_KEYSTORE": str(store), "LLMNET_KEYSTORE_PASSWORD": "pw"}).address == address
    assert wallet_account(1, env={"LLMNET_PRIVATE_KEY": KEY}).address == address
    with pytest.raises(KeystoreError, match="no password for keystore"):
        wallet_account(1, keystore=store, env={})
    password.write_text("\n")
    with pytest.raises(KeystoreError, match="is empty"):
        wallet_account(1, keystore=store, password_file=password, env={})
    with pytest.raises(ConfigError, match=r"no account given: pass --keystore FILE .* --dev N"):
        wallet_account(1, env={})


def test_another_chain_than_named_is_refused() -> None:
    check_chain(31337, None)
    check_chain(31337, 31337)
    with pytest.raises(WrongChain, match="the node is chain 31337, not chain 1 as --chain-id says"):
        check_chain(31337, 1)


def test_a_coordinator_is_named_by_its_base_url(tmp_path: Path) -> None:
    for url in (
        "http://10.0.0.5:8300",
        "http://10.0.0.5:8300/",
        "http://10.0.0.5:8300/v1",
        " http://10.0.0.5:8300/v1/",
    ):
        assert coordinator_base(url) == "http://10.0.0.5:8300"
    with pytest.raises(InputError, match="must be http"):
        coordinator_base("10.0.0.5:8300")
    assert key_file(tmp_path, "http://10.0.0.5:8300") == tmp_path / "api-keys" / "10.0.0.5_8300.key"
