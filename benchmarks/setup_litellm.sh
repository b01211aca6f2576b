#!/usr/bin/env bash
# Install LiteLLM's proxy in its own virtualenv (.bench/litellm), so bench_overhead.py can put it in
# front of the same fake backend for comparison without touching llmnet's own environment.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .bench/litellm
.bench/litellm/bin/python -m pip install --quiet "litellm[proxy]" 2>&1 | grep -v "is ignored" || true
.bench/litellm/bin/litellm --version
