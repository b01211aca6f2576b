"""What an expert version was made from: the manifest written beside every trained adapter.

``expert.json`` in a training run's folder holds one :class:`ExpertManifest`. Its sha256
(:meth:`ExpertManifest.digest`, over the canonical JSON) is what the chain records, so anybody holding
the file can check that it is the one registered, and read from it the base model and its hash, the
method and hyperparameters, the dataset's hash and where the data came from (a knowledge folder's
corpus hash; the rankings contract and block range), and the licences involved.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmnet.errors import ConfigError

MANIFEST_FILE = "expert.json"
Method = Literal["lora", "prefix"]
Objective = Literal["sft", "dpo", "sft+dpo"]
ArtifactKind = Literal["gguf-lora", "peft-prefix"]
HyperValue = int | float | str | bool | list[str]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BaseRef(_Frozen):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    licence: str
    mode: Literal["chat", "completion"]


class KnowledgeSource(_Frozen):
    folder: str  # the folder's name (its path is the trainer's business)
    corpus_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # llmnet.experts.corpus hash of the documents
    licence: str
    examples: int


class RankingsSource(_Frozen):
    chain_id: int
    contract: str
    from_block: int
    to_block: int
    pairs: int
    licences: list[str]  # of the models whose responses are in the pairs


class DatasetRef(_Frozen):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # of the training examples, in order, as trained on
    examples: int
    knowledge: KnowledgeSource | None = None
    rankings: RankingsSource | None = None


class Artifact(_Frozen):
    kind: ArtifactKind
    file: str  # relative to the manifest's folder
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class TrainingStats(_Frozen):
    steps: int
    seconds: float
    peak_rss_mb: float
    final_loss: float


class ExpertManifest(_Frozen):
    schema_version: Literal["llmnet-expert/1"] = "llmnet-expert/1"
    name: str
    domains: list[str]
    base: BaseRef
    method: Method
    objective: Objective
    hyperparameters: dict[str, HyperValue]
    dataset: DatasetRef
    artifact: Artifact
    licence: str  # of the expert itself
    training: TrainingStats
    created_at: int  # unix seconds

    def canonical(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> str:
        """sha256 (hex) of the canonical JSON: what the chain records for this version."""
        return hashlib.sha256(self.canonical()).hexdigest()

    def save(self, folder: Path) -> Path:
        path = folder / MANIFEST_FILE
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, folder_or_file: Path) -> ExpertManifest:
        path = folder_or_file / MANIFEST_FILE if folder_or_file.is_dir() else folder_or_file
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no expert manifest at {path}; name the folder `llmnet expert train` wrote") from None
        except ValidationError as e:
            raise ConfigError(f"{path} is not a valid expert manifest: {e.errors()[0]['msg']} "
                              f"at {'.'.join(map(str, e.errors()[0]['loc']))}") from None  # fmt: skip
