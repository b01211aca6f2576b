"""The requester host of the multi-host test, run inside its namespace: find a coordinator on chain,
sign in to it with the account's own key, escrow a deposit for it, then ask questions until told to
stop, one JSON line per request (answered or not) in the output file.

    python requester.py RPC_URL ESCROW KEYSTORE PASSWORD_FILE OUT STOP_FILE
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import openai

from llmnet.chain.deploy import resolve_deployment
from llmnet.chain.network import connect
from llmnet.chain.web3_ledger import Web3Ledger

QUESTIONS = ("What is the capital of France?", "Name a primary colour.", "What is 2 plus 2?",
             "What do bees make?", "Which planet is closest to the Sun?")  # fmt: skip


def llmnet(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "llmnet.cli.main", *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"llmnet {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main(rpc_url: str, escrow: str, keystore: str, password_file: str, out: Path, stop: Path) -> None:
    w3 = connect(rpc_url)
    coordinator = Web3Ledger(w3, resolve_deployment(w3, escrow)).coordinators()[0]
    chain = ["--rpc-url", rpc_url, "--deployment", escrow, "--keystore", keystore, "--password-file", password_file]
    key_file = out.with_name("api.key")
    llmnet("keys", "login", "--coordinator", coordinator.endpoint, "--keystore", keystore,
           "--password-file", password_file, "--out", str(key_file))  # fmt: skip
    llmnet("escrow", "deposit", "1", *chain)
    llmnet("escrow", "approve", coordinator.address, "1", *chain)
    client = openai.OpenAI(base_url=f"{coordinator.endpoint}/v1", api_key=key_file.read_text().strip(),
                           timeout=120, max_retries=0)  # fmt: skip
    n = 0
    with out.open("a") as log:
        while not stop.exists():
            question = QUESTIONS[n % len(QUESTIONS)]
            started = time.monotonic()
            line: dict[str, object] = {"n": n, "question": question}
            try:
                resp = client.chat.completions.create(model="llmnet/general",
                                                      messages=[{"role": "user", "content": question}])  # fmt: skip
                extra = resp.model_extra["llmnet"]  # type: ignore[index]
                receipt = extra["receipt"]
                line |= {"ok": True, "task_id": extra["task_id"], "answer": resp.choices[0].message.content,
                         "answered": [r["address"] for r in receipt["respondents"] if r["answered"]],
                         "failed": [r["address"] for r in receipt["respondents"] if not r["answered"]],
                         "validators": receipt["validators"]}  # fmt: skip
            except openai.OpenAIError as exc:
                line |= {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
            line["seconds"] = round(time.monotonic() - started, 2)
            log.write(json.dumps(line) + "\n")
            log.flush()
            n += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5]), Path(sys.argv[6]))
