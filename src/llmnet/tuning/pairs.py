"""Supervised examples made from a knowledge folder: questions its passages answer, with grounded answers.

    examples = sft_examples(Path("knowledge/isle-of-varn"))
    examples[0].messages   # what a serving ExpertBackend sends its model for the question
    examples[0].answer     # the passage's first sentence

A minimal generator: one question per passage, about the passage's title, answered by its first
sentence. The prompt is exactly what :meth:`llmnet.experts.expert.ExpertBackend.grounded` sends the
expert's model, so training and serving prompts match.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from llmnet.backends.base import ChatMessage, GenerationRequest
from llmnet.backends.fake import FakeBackend
from llmnet.experts.expert import ExpertBackend
from llmnet.experts.knowledge import KnowledgeBase

_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")


@dataclass(frozen=True)
class SftExample:
    """One supervised example: the prompt a serving expert sends its model, and the answer to learn."""

    messages: tuple[ChatMessage, ...]
    answer: str
    source: str


def sft_examples(folder: Path, *, seed: int = 0) -> list[SftExample]:
    """One example per passage of ``folder``, prompted as the expert serving it prompts; ``seed`` orders them."""
    knowledge = KnowledgeBase.from_folder(folder)
    expert = ExpertBackend(FakeBackend(), knowledge)
    examples = []
    for passage in knowledge.passages:
        request = GenerationRequest.from_prompt(f"What do you know about {passage.title}?")
        messages = expert.grounded(request, expert.retrieve(request)).messages
        examples.append(SftExample(messages, _SENTENCE_END.split(passage.text.strip())[0], passage.id))
    random.Random(seed).shuffle(examples)
    return examples
