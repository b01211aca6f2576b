"""Read-only views of the ledger for the dashboard: providers, reputation over time, batches,
transactions, and Merkle proofs of a task's receipt checked on chain."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3

from llmnet.chain.artifacts import load_artifact
from llmnet.chain.merkle import MerkleTree
from llmnet.chain.transactions import translate
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import NotFound
from llmnet.reputation.beta import RepState
from llmnet.roles.taskbook import TaskBook


def _mean(alpha: int, beta: int) -> float:
    return round(RepState(alpha, beta).mean(), 4)


class LedgerExplorer:
    def __init__(self, ledger: Web3Ledger) -> None:
        self.ledger = ledger
        self._block_times: dict[int, int] = {}
        d = ledger.deployment
        names = {d.registry: "ProviderRegistry", d.escrow: "TaskEscrow", d.validator_book: "ValidatorBook",
                 getattr(d, "rankings", ""): "Rankings"}  # fmt: skip
        self.contracts = {
            address.lower(): ledger.w3.eth.contract(
                address=Web3.to_checksum_address(address), abi=load_artifact(n)["abi"]
            )
            for address, n in names.items()
            if address
        }
        self.names = {address.lower(): n for address, n in names.items() if address}

    def _domain_names(self) -> dict[str, str]:
        return {"0x" + keccak(text=name).hex(): name for name in self.ledger.domains()}

    def providers(self) -> list[dict[str, Any]]:
        """Every provider with its model, stake and its reputation in each of its domains."""
        reputation: dict[str, dict[str, Any]] = {}
        for domain in self.ledger.domains():
            for c in self.ledger.candidates(domain):
                reputation.setdefault(c.provider, {})[domain] = {
                    "mean": round(c.reputation.mean(), 4), "count": c.reputation.count,
                }  # fmt: skip
        return [
            {"address": p.address, "endpoint": p.profile.endpoint, "model_id": p.profile.model_id,
             "version": p.profile.model_version, "licence": p.profile.licence, "stake_wei": str(p.stake),
             "domains": list(p.profile.domains), "reputation": reputation.get(p.address, {})}
            for p in self.ledger.providers()
        ]  # fmt: skip

    def block_time(self, number: int) -> int:
        if number not in self._block_times:
            self._block_times[number] = int(self.ledger.w3.eth.get_block(number)["timestamp"])
        return self._block_times[number]

    def reputation_history(self) -> list[dict[str, Any]]:
        """One series per (provider, domain): the posterior mean after each on-chain update."""
        try:
            logs = self.ledger.escrow.events.ReputationUpdated().get_logs(
                from_block=self.ledger.deployment.block_number
            )
        except Exception as exc:
            raise translate(exc, "reading reputation updates") from None
        names = self._domain_names()
        series: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for log in logs:
            a = log["args"]
            domain = names.get("0x" + bytes(a["domain"]).hex(), "?")
            point = {"t": self.block_time(log["blockNumber"]), "mean": _mean(a["alpha"], a["beta"]),
                     "count": a["count"]}  # fmt: skip
            series.setdefault((a["provider"], domain), []).append(point)
        return [{"provider": p, "domain": d, "points": pts} for (p, d), pts in series.items()]

    def batches(self, limit: int = 10) -> list[dict[str, Any]]:
        count = self.ledger.batch_count()
        return [_batch(self.ledger, i) for i in range(count - 1, max(-1, count - 1 - limit), -1)]

    def transactions(self, blocks: int = 40) -> list[dict[str, Any]]:
        """The transactions of the latest blocks, newest first, with the contract function each called."""
        head = int(self.ledger.w3.eth.block_number)
        found = []
        for number in range(head, max(-1, head - blocks), -1):
            block = self.ledger.w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                assert not isinstance(tx, bytes)  # full transactions were asked for
                to = str(tx.get("to") or "")
                found.append({"hash": tx["hash"].to_0x_hex(), "block": number, "from": tx["from"], "to": to,
                              "contract": self.names.get(to.lower(), ""), "function": self._function(to, tx),
                              "time": int(block["timestamp"])})  # fmt: skip
        return found

    def _function(self, to: str, tx: Any) -> str:
        contract = self.contracts.get(to.lower())
        if contract is None:
            return "transfer" if to else "deploy"
        try:
            return str(contract.decode_function_input(tx["input"])[0].fn_name)
        except Exception:  # a call our ABI does not know
            return "?"

    def receipt_proof(self, book: TaskBook, task_key: str) -> dict[str, Any]:
        """The Merkle proof of a settled task's receipt, and whether the chain accepts it."""
        task = book.task(task_key)
        settlement = task.get("settlement") or {}
        batch_id = settlement.get("batch_id")
        if batch_id is None:
            raise NotFound(f"task {task_key} is not settled yet; its receipt has no batch to be proven against")
        leaves = book.batch_receipts(int(batch_id))
        if len(leaves) != self._task_count(int(batch_id), len(leaves)):
            raise NotFound(f"batch {batch_id} holds tasks of other coordinators; this one cannot prove it alone")
        hashes = [h for _, h in leaves]
        proof = MerkleTree(hashes).proof(hashes.index(task["receipt_hash"]))
        return {"task_key": task_key, "batch_id": batch_id, "receipt_hash": task["receipt_hash"], "proof": proof,
                "root": self.ledger.batch_root(int(batch_id)), "verified_on_chain": self.ledger.verify_receipt(
                    int(batch_id), task["receipt_hash"], proof)}  # fmt: skip

    def _task_count(self, batch_id: int, known: int) -> int:
        """The batch's task count from its event; ``known`` once the node no longer keeps that event
        (the proof is then checked against the root in the contract's storage, which is always kept)."""
        try:
            return self.ledger.get_batch(batch_id).task_count
        except NotFound:
            return known


def _batch(ledger: Web3Ledger, batch_id: int) -> dict[str, Any]:
    try:
        b = ledger.get_batch(batch_id)
    except NotFound:  # settled before the blocks the node keeps: only its root is left
        return {"batch_id": batch_id, "receipts_root": ledger.batch_root(batch_id), "task_count": None,
                "total_fees": None, "settled_at": None, "tx_hash": ""}  # fmt: skip
    return {"batch_id": b.batch_id, "receipts_root": b.receipts_root, "task_count": b.task_count,
            "total_fees": str(b.total_fees), "settled_at": b.settled_at, "tx_hash": b.tx_hash}  # fmt: skip
