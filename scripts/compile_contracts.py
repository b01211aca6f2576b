"""Regenerate the checked-in contract artifacts from contracts/*.vy.

python scripts/compile_contracts.py
"""

from llmnet.chain.artifacts import write_artifacts

if __name__ == "__main__":
    for path in write_artifacts():
        print(f"wrote {path}")
