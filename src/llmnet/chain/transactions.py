"""Build, simulate, sign, send and confirm transactions; translate web3 errors.

Every write is simulated first (``eth_estimateGas``), so a call the contract
would refuse raises its typed error before anything is sent and nothing
changes. Nonces are tracked locally per account so many writes can be in
flight at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account as EthAccount
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError

from llmnet.chain.ledger import Account
from llmnet.errors import ChainError, ChainUnavailable, ContractRevert, InsufficientFunds, revert_error

GAS_MARGIN = 1.25
GAS_PAD = 20_000
PRIORITY_FEE = 10**9


@dataclass(frozen=True)
class SignedTx:
    sender: str
    nonce: int
    tx_hash: str
    raw: bytes


@dataclass(frozen=True)
class MinedTx:
    tx_hash: str
    block_number: int
    gas_used: int
    contract_address: str | None
    logs: list[Any] = field(default_factory=list)


def revert_reason(exc: Exception) -> str:
    """The contract's revert string out of a web3 error."""
    message = getattr(exc, "message", None) or str(exc)
    for prefix in ("execution reverted: ", "execution reverted:"):
        if prefix in message:
            return message.split(prefix, 1)[1].strip().strip("'\"")
    return message.strip()


# a read at "latest" that a node keeping one past state answers while it mines two more blocks finds
# its block pruned (anvil: "BlockOutOfRangeError"); read again, at the new latest block
READ_ATTEMPTS = 3


def read(fn: Any, context: str = "") -> Any:
    """``fn.call()`` at the latest block, read again if the node pruned that block under the read;
    any failure becomes an llmnet error."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return fn.call()
        except Exception as exc:  # web3 raises many kinds; all are translated
            if attempt < READ_ATTEMPTS and "BlockOutOfRangeError" in str(exc):
                continue
            raise translate(exc, context) from None
    raise AssertionError("unreachable")  # pragma: no cover


def translate(exc: Exception, context: str = "") -> ChainError:
    """Map a third-party exception raised while talking to a node onto llmnet's tree."""
    if isinstance(exc, ContractLogicError):
        return revert_error(revert_reason(exc), context)
    if isinstance(exc, RequestException | ConnectionError | OSError):
        return ChainUnavailable(f"the Ethereum node does not answer ({type(exc).__name__}); is it running?")
    if "insufficient funds" in str(exc).lower():
        return InsufficientFunds("insufficient funds for gas and value", context or "fund the sending account")
    if "execution reverted" in str(exc):  # eth-tester's TransactionFailed, RPC errors
        return revert_error(revert_reason(exc), context)
    return ChainError(f"{context + ': ' if context else ''}{exc}")


class TxSender:
    def __init__(self, w3: Web3, *, poll_latency: float = 0.005, timeout: float = 60.0) -> None:
        self.w3 = w3
        self.poll_latency = poll_latency
        self.timeout = timeout
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()
        self._chain_id = w3.eth.chain_id
        self._fees: tuple[float, dict[str, int]] | None = None

    def next_nonce(self, address: str) -> int:
        with self._lock:
            if address not in self._nonces:
                self._nonces[address] = int(
                    self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending")
                )
            nonce = self._nonces[address]
            self._nonces[address] = nonce + 1
            return nonce

    def forget_nonce(self, address: str) -> None:
        with self._lock:
            self._nonces.pop(address, None)

    def fee_fields(self) -> dict[str, int]:
        """EIP-1559 fees: twice the latest base fee plus a fixed tip.

        Bidding from eth_gasPrice would feed our own tips back into the next
        quote and double the price on every refresh; the base fee does not.
        Refreshed every two seconds: one extra RPC per write would halve throughput.
        """
        now = time.monotonic()
        if self._fees is None or now - self._fees[0] > 2.0:
            base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
            fees = {"maxFeePerGas": 2 * base + PRIORITY_FEE, "maxPriorityFeePerGas": PRIORITY_FEE}
            self._fees = (now, fees)
        return dict(self._fees[1])

    def estimate(self, fn: Any, account: Account, *, value: int = 0, context: str = "") -> int:
        """Simulate ``fn``: its gas, or the typed revert it would raise."""
        try:
            # against the pending block, where the transaction will land: on an idle development
            # chain the latest block can be minutes old, and time-bound calls would misjudge it
            return int(fn.estimate_gas({"from": account.address, "value": value}, block_identifier="pending"))
        except Exception as exc:  # web3 raises many kinds; all are translated
            raise translate(exc, context) from None

    def prepare(
        self,
        fn: Any,
        account: Account,
        *,
        value: int = 0,
        context: str = "",
        nonce: int | None = None,
        gas: int | None = None,
    ) -> SignedTx:
        """Sign ``fn`` from ``account``, simulating it first unless ``gas`` is known."""
        params = {"from": account.address, "value": value}
        if gas is None:
            gas = self.estimate(fn, account, value=value, context=context)
        tx = fn.build_transaction(
            {
                **params,
                "gas": int(gas * GAS_MARGIN) + GAS_PAD,
                **self.fee_fields(),
                "chainId": self._chain_id,
                "nonce": self.next_nonce(account.address) if nonce is None else nonce,
            }
        )
        signed = EthAccount.sign_transaction(tx, account.key)
        return SignedTx(account.address, tx["nonce"], signed.hash.to_0x_hex(), bytes(signed.raw_transaction))

    def submit(self, tx: SignedTx) -> None:
        try:
            self.w3.eth.send_raw_transaction(tx.raw)
        except Web3RPCError as exc:
            if "already known" in str(exc) or "already imported" in str(exc):
                return  # resubmitting the same signed bytes is harmless
            self.forget_nonce(tx.sender)
            raise translate(exc) from None
        except Exception as exc:
            self.forget_nonce(tx.sender)
            raise translate(exc) from None

    def receipt(self, tx_hash: str) -> MinedTx | None:
        """The mined receipt of ``tx_hash``, or None if the chain does not have it."""
        try:
            r = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except Exception as exc:
            if type(exc).__name__ == "TransactionNotFound":
                return None
            raise translate(exc) from None
        return self._mined(r)

    def wait(self, tx: SignedTx, fn: Any = None, context: str = "") -> MinedTx:
        try:
            r = self.w3.eth.wait_for_transaction_receipt(
                tx.tx_hash,  # type: ignore[arg-type]
                timeout=self.timeout,
                poll_latency=self.poll_latency,
            )
        except TimeExhausted:
            raise ChainError(f"transaction {tx.tx_hash} was not mined within {self.timeout:.0f}s") from None
        except Exception as exc:
            raise translate(exc, context) from None
        if r["status"] != 1:
            raise self._failure(r, fn, tx, context)
        return self._mined(r)

    def _failure(self, r: Any, fn: Any, tx: SignedTx, context: str) -> ChainError:
        # the simulation passed but the mined call failed: replay it at that block for the reason
        if fn is not None:
            try:
                fn.call({"from": tx.sender}, block_identifier=r["blockNumber"])
            except Exception as exc:
                err = translate(exc, context)
                if isinstance(err, ContractRevert):
                    return err
        return ChainError(f"transaction {tx.tx_hash} reverted when mined{f' ({context})' if context else ''}")

    @staticmethod
    def _mined(r: Any) -> MinedTx:
        address = r.get("contractAddress")
        return MinedTx(
            tx_hash=r["transactionHash"].to_0x_hex(),
            block_number=r["blockNumber"],
            gas_used=r["gasUsed"],
            contract_address=str(address) if address else None,
            logs=list(r["logs"]),
        )

    def send(self, fn: Any, account: Account, *, value: int = 0, context: str = "") -> MinedTx:
        """Simulate, sign, send and wait for one write."""
        tx = self.prepare(fn, account, value=value, context=context)
        self.submit(tx)
        return self.wait(tx, fn, context)
