"""A separate process that streams task openings through the outbox.

    python outbox_writer.py RPC_URL DEPLOYMENT_JSON OUTBOX_DB write N
    python outbox_writer.py RPC_URL DEPLOYMENT_JSON OUTBOX_DB drain

``write`` prints ``ACK i`` once record i is acknowledged (persisted) and keeps a
drainer running; ``drain`` recovers after a crash, drains and prints DRAINED.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from web3 import Web3

from llmnet.chain.deploy import Deployment
from llmnet.chain.network import dev_account
from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger

REQUESTER = 3
FEE = 10**15


def content(i: int) -> str:
    return "0x" + f"{i + 1:064x}"


def main() -> None:
    url, deployment_file, db, mode = sys.argv[1:5]
    w3 = Web3(Web3.HTTPProvider(url))
    ledger = Web3Ledger(w3, Deployment(**json.loads(Path(deployment_file).read_text())))
    account = dev_account(REQUESTER)
    outbox = Outbox(Path(db), ledger, [account], window=4)
    if mode == "write":
        outbox.start()
        deadline = ledger.now() + 10 * 24 * 3600
        for i in range(int(sys.argv[5])):
            call = ledger.open_task_call("general", content(i), 1, deadline, FEE)
            outbox.submit(call, account, key=f"task-{i}")
            print(f"ACK {i}", flush=True)
        outbox.drain()
        print("DONE", flush=True)
    else:
        print(json.dumps(outbox.recover().__dict__), flush=True)
        outbox.drain()
        print("DRAINED", flush=True)


if __name__ == "__main__":
    main()
