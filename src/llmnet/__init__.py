"""llmnet: a decentralized network of LLM providers kept honest by an EVM ledger."""

__version__ = "0.1.0"
