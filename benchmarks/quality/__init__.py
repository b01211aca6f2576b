"""The labelled quality set that ``bench_quality.py`` measures the network on (see README.md)."""

from quality.dataset import (
    CORRECTNESS_RULE,
    GENERAL,
    NEAR_MISS_KINDS,
    Domain,
    NearMiss,
    QualityItem,
    domains,
    is_correct,
    knowledge_dir,
    load_items,
    load_near_misses,
    normalise_answer,
)

__all__ = [
    "CORRECTNESS_RULE",
    "GENERAL",
    "NEAR_MISS_KINDS",
    "Domain",
    "NearMiss",
    "QualityItem",
    "domains",
    "is_correct",
    "knowledge_dir",
    "load_items",
    "load_near_misses",
    "normalise_answer",
]
