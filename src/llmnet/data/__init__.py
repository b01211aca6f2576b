"""Files llmnet ships inside its package, found wherever llmnet is installed.

    from llmnet.data import KNOWLEDGE_ROOT, QUESTIONS_FILE
    KnowledgeBase.from_folder(KNOWLEDGE_ROOT / "medicine")

``knowledge/<domain>/`` holds the documents of the built-in experts (medicine, astronomy, law,
corpus-energy), ``knowledge/questions.jsonl`` the questions with reference answers (gold tasks,
the demo, the simulations), and ``network.toml`` the topology ``llmnet up`` starts by default.
The contracts' compiled artifacts are package data of :mod:`llmnet.chain.artifacts`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from llmnet.errors import ConfigError

__all__ = ["DEFAULT_NETWORK_FILE", "KNOWLEDGE_ROOT", "QUESTIONS_FILE", "shipped_knowledge"]


def _on_disk(name: str) -> Path:
    path = resources.files(__name__) / name
    if not isinstance(path, Path):  # a zipped install: the experts and the classifier read folders
        raise ConfigError(f"llmnet's {name} is inside an archive ({path}); install llmnet as files: pip install llmnet")
    return path


KNOWLEDGE_ROOT = _on_disk("knowledge")
QUESTIONS_FILE = KNOWLEDGE_ROOT / "questions.jsonl"
DEFAULT_NETWORK_FILE = _on_disk("network.toml")


def shipped_knowledge() -> list[str]:
    """The names of the knowledge folders llmnet ships (``medicine``, ``law``...)."""
    return sorted(p.name for p in KNOWLEDGE_ROOT.iterdir() if p.is_dir())
