"""What the chain host's operator does in the multi-host test, run inside its namespace:

    python chain_ops.py RPC_URL ESCROW fund ADDRESS...     # governance sends each 3 ETH (a faucet)
    python chain_ops.py RPC_URL ESCROW state ADDRESS...    # JSON: credits, reputation, tasks, coordinators

Governance is the development account that deployed the contracts; everyone else has their own key.
"""

from __future__ import annotations

import json
import sys

from llmnet.chain.deploy import resolve_deployment
from llmnet.chain.network import connect, dev_account
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.launcher import fund
from llmnet.types import ETHER


def last_updates(ledger: Web3Ledger, provider: str, n: int = 2) -> list[list[int]]:
    """[alpha, beta] of the provider's last ``n`` reputation updates, oldest first."""
    events = ledger.escrow.events.ReputationUpdated.get_logs(from_block=0, argument_filters={"provider": provider})
    return [[e["args"]["alpha"], e["args"]["beta"]] for e in events[-n:]]


def main(rpc_url: str, escrow: str, command: str, args: list[str]) -> None:
    w3 = connect(rpc_url)
    ledger = Web3Ledger(w3, resolve_deployment(w3, escrow))
    gov = dev_account(0)
    if command == "fund":
        for address in args:
            fund(ledger, gov, address, 3 * ETHER)
    elif command == "state":
        tasks = [ledger.get_task(i) for i in range(ledger.task_count())]
        print(json.dumps({
            "credits": {a: ledger.credits_of(a) for a in args},
            "reputation": {a: [ledger.reputation(a, "general").count, ledger.reputation(a, "general").mean()]
                           for a in args},
            "tasks": {str(t.task_id): int(t.status) for t in tasks},
            "last_updates": {a: last_updates(ledger, a) for a in args},
            "coordinators": [c.endpoint for c in ledger.coordinators()],
        }))  # fmt: skip
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
