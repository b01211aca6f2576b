"""A training run's folder as `llmnet expert train` leaves it, made without training: a manifest and
an artifact of a few bytes (registration reads only the manifest and the artifact's hash)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from llmnet.tuning.manifest import (
    Artifact,
    BaseRef,
    DatasetRef,
    ExpertManifest,
    KnowledgeSource,
    RankingsSource,
    TrainingStats,
)

BASE_SHA = "ab" * 32


def write_run(folder: Path, *, rankings: RankingsSource | None = None, knowledge_licence: str = "CC-BY-4.0",
              licence: str = "Apache-2.0", name: str = "law-expert") -> ExpertManifest:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / "adapter.gguf"
    artifact.write_bytes(b"GGUF adapter bytes of " + name.encode())
    sha256 = hashlib.sha256(artifact.read_bytes()).hexdigest()
    manifest = ExpertManifest(
        name=name, domains=["law"], base=BaseRef(name="smollm2", sha256=BASE_SHA, licence="Apache-2.0", mode="chat"),
        method="lora", objective="sft+dpo" if rankings else "sft", hyperparameters={"rank": 8, "lr": 0.001},
        dataset=DatasetRef(sha256="cd" * 32, examples=40, rankings=rankings,
                           knowledge=KnowledgeSource(folder="law", corpus_sha256="ef" * 32, licence=knowledge_licence,
                                                     examples=40)),
        artifact=Artifact(kind="gguf-lora", file="adapter.gguf", sha256=sha256),
        licence=licence, training=TrainingStats(steps=20, seconds=30.0, peak_rss_mb=900.0, final_loss=0.5),
        created_at=1_800_000_000,
    )  # fmt: skip
    manifest.save(folder)
    return manifest


def rankings_source(chain_id: int, contract: str) -> RankingsSource:
    return RankingsSource(chain_id=chain_id, contract=contract, from_block=3, to_block=40, pairs=12,
                          licences=["Apache-2.0"])  # fmt: skip
