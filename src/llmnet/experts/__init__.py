"""Experts: a model plus a folder of domain documents, and the classifier that routes questions to them.

knowledge = KnowledgeBase.from_folder("knowledge/law")
expert = ExpertBackend(FakeBackend(), knowledge)
DomainClassifier.from_knowledge(Path("knowledge"), ["medicine", "astronomy", "law"]).classify(text)
"""

from __future__ import annotations

from llmnet.experts.classifier import DomainClassifier, DomainGuess
from llmnet.experts.expert import ExpertAnswer, ExpertBackend, build_prompt
from llmnet.experts.knowledge import KnowledgeBase, Passage, ScoredPassage, split_passages

__all__ = [
    "DomainClassifier",
    "DomainGuess",
    "ExpertAnswer",
    "ExpertBackend",
    "KnowledgeBase",
    "Passage",
    "ScoredPassage",
    "build_prompt",
    "split_passages",
]
