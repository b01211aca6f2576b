"""The research team: a keyword extractor, a researcher that searches a local document corpus with
BM25 and summarizes the relevant passages (dropping the rest), and a writer whose Markdown report
cites the passages it used.

Every step tolerates a weak model: keywords fall back to the topic's own words, an empty summary to
the passage's first sentence, and a report that cites nothing gets the notes it was given, cited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from llmnet.agents.action import Action, ActionContext, Draft, Persona
from llmnet.agents.client import CallSpec
from llmnet.agents.message import USER_REQUIREMENT, AgentMessage, requirement
from llmnet.agents.role import Role
from llmnet.agents.teams.base import TeamConfig, TeamRecipe
from llmnet.data import KNOWLEDGE_ROOT
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.experts.tokens import STOP_WORDS, tokenize

SAMPLE_CORPUS = KNOWLEDGE_ROOT / "corpus-energy"
NOT_RELEVANT = "Not relevant."
MAX_KEYWORDS = 2
GENERAL, AUTO = "llmnet/general", "llmnet/auto"


def parse_keywords(reply: str, topic: str) -> tuple[list[str], bool]:
    """At most two keywords from the model's reply (a JSON list, or failing that a comma-separated
    line); the topic's own words when the reply gives none. Second value: whether it fell back."""
    found: list[Any] = []
    listed = re.search(r"\[.*?\]", reply, re.DOTALL)
    if listed:
        try:
            found = json.loads(listed.group(0))
        except json.JSONDecodeError:
            found = []
    if not found:
        first_line = next((line for line in reply.splitlines() if line.strip()), "")
        found = first_line.split(",")
    words = [str(w).strip(" \t\"'`*-.#[]") for w in found if isinstance(w, str | int | float)]
    keywords = [w for w in words if tokenize(w) and len(w) <= 40][:MAX_KEYWORDS]
    if keywords:
        return keywords, False
    return topic_terms(topic)[:MAX_KEYWORDS], True


def topic_terms(topic: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", topic) if w.lower() not in STOP_WORDS]


def parse_summary(reply: str, passage_text: str) -> tuple[bool, str, bool]:
    """(relevant, summary, fell back): the model's verdict on a passage, or its first sentence when
    the model said nothing."""
    text = reply.strip()
    if re.match(r"^\W*not\s+relevant", text, re.IGNORECASE):
        return False, NOT_RELEVANT, False
    if not tokenize(text):
        return True, re.split(r"(?<=[.!?])\s+", passage_text.strip())[0], True
    return True, text, False


def cited_numbers(body: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", body)}


class ExtractKeywords(Action):
    name = "ExtractKeywords"
    prompt = (
        "Topic: {topic}\nGive at most two keywords to search documents about this topic. "
        'Answer only with a JSON list of strings, for example ["solar panels", "cost"].'
    )

    def run(self, ctx: ActionContext, trigger: Sequence[AgentMessage]) -> list[Draft]:
        topic = trigger[-1].content
        reply = ctx.ask(self.name, self.prompt.format(topic=topic), self.spec)
        keywords, fallback = parse_keywords(reply, topic)
        return [Draft(json.dumps(keywords), data={"topic": topic, "keywords": keywords, "fallback": fallback})]


class CollectPassages(Action):
    """BM25 over the corpus (no model call): one message per passage, to the researcher itself."""

    name = "CollectPassages"

    def __init__(self, corpus: Path, max_passages: int, researcher: str, writer: str) -> None:
        super().__init__()
        self.corpus, self.max_passages, self.researcher, self.writer = corpus, max_passages, researcher, writer

    @cached_property
    def knowledge(self) -> KnowledgeBase:
        return KnowledgeBase.from_folder(self.corpus)

    def run(self, ctx: ActionContext, trigger: Sequence[AgentMessage]) -> list[Draft]:
        topic, keywords = trigger[-1].data["topic"], trigger[-1].data["keywords"]
        found = self.knowledge.retrieve(" ".join([topic, *keywords]), k=self.max_passages)
        if not found:
            return [Draft("no passage matched", frozenset({self.writer}), {"topic": topic, "of": 0})]
        return [
            Draft(
                s.passage.text,
                frozenset({self.researcher}),
                {
                    "topic": topic,
                    "of": len(found),
                    "index": i,
                    "passage": s.passage.id,
                    "source": s.passage.source,
                    "title": s.passage.title,
                    "score": round(s.score, 4),
                },
            )
            for i, s in enumerate(found)
        ]


class SummarizePassage(Action):
    name = "SummarizePassage"
    prompt = (
        "Topic: {topic}\nPassage: {text}\n\nIf the passage is relevant to the topic, summarize in one or two "
        "sentences what it says about the topic. If it is not relevant, answer exactly: Not relevant."
    )

    def __init__(self, spec: CallSpec, writer: str) -> None:
        super().__init__(spec)
        self.writer = writer

    def run(self, ctx: ActionContext, trigger: Sequence[AgentMessage]) -> list[Draft]:
        passage = trigger[-1]
        reply = ctx.ask(self.name, self.prompt.format(topic=passage.data["topic"], text=passage.content), self.spec)
        relevant, summary, fallback = parse_summary(reply, passage.content)
        data = {**passage.data, "relevant": relevant, "fallback": fallback}
        return [Draft(summary, frozenset({self.writer}), data)]


class WriteReport(Action):
    name = "WriteReport"
    prompt = (
        "Topic: {topic}\nNotes:\n{notes}\n\nWrite a short report in Markdown on the topic using only these "
        "notes. Cite the notes you use by their numbers, like [1]."
    )

    def run(self, ctx: ActionContext, trigger: Sequence[AgentMessage]) -> list[Draft]:
        topic = trigger[0].data["topic"]
        notes = sorted((m for m in trigger if m.data.get("relevant")), key=lambda m: m.data["index"])
        if not notes:
            body = "No passage of the corpus was relevant to this topic."
            return [Draft(render_report(topic, body, []), data={"topic": topic, "sources": []})]
        listed = "\n".join(f"[{i}] {m.content}" for i, m in enumerate(notes, 1))
        body = ctx.ask(self.name, self.prompt.format(topic=topic, notes=listed), self.spec)
        cited = sorted(n for n in cited_numbers(body) if 1 <= n <= len(notes))
        if not cited:  # the model cited nothing: give the notes it was handed, cited
            body = (body + "\n\n" if body else "") + "\n".join(f"- {m.content} [{i}]" for i, m in enumerate(notes, 1))
            cited = list(range(1, len(notes) + 1))
        sources = [(n, notes[n - 1]) for n in cited]
        return [
            Draft(
                render_report(topic, body, sources),
                data={"topic": topic, "sources": [m.data["passage"] for _, m in sources]},
            )
        ]


def render_report(topic: str, body: str, sources: list[tuple[int, AgentMessage]]) -> str:
    lines = [f"# {topic}", "", body.strip(), ""]
    if sources:
        lines += ["## Sources", ""]
        lines += [f"[{n}] `{m.data['passage']}` ({m.data['title']}): {m.content}" for n, m in sources]
    return "\n".join(lines).rstrip() + "\n"


class Writer(Role):
    """Acts once, when the notes on every collected passage are in."""

    def triggers(self) -> list[list[AgentMessage]]:
        pending = self.pending()
        if any(m.data.get("of") == 0 for m in pending):
            return [pending]
        notes = [m for m in pending if m.cause_by == SummarizePassage.name]
        return [notes] if notes and len(notes) >= notes[0].data["of"] else []


class ResearchTeam(TeamRecipe):
    name: ClassVar[str] = "research"
    description: ClassVar[str] = "keywords, then passages of a local corpus summarized, then a cited report"

    def roles(self, config: TeamConfig) -> list[Role]:
        corpus = config.corpus or SAMPLE_CORPUS
        extractor = Persona(
            "KeywordExtractor",
            "keyword extractor",
            "find the best search keywords for a topic",
            "answer with at most two keywords as a JSON list",
        )
        researcher = Persona(
            "Researcher",
            "researcher",
            "find and summarize the passages relevant to the topic",
            "use only the documents of the corpus; say 'Not relevant.' for an irrelevant passage",
        )
        writer = Persona(
            "Writer", "report writer", "write a concise Markdown report", "use only the notes given and cite them"
        )
        summarize = SummarizePassage(config.spec((AUTO, GENERAL)), writer.name)
        write = WriteReport(config.spec((GENERAL, AUTO), config.max_tokens * 2))
        return [
            Role(extractor, {USER_REQUIREMENT: ExtractKeywords(config.spec((GENERAL, AUTO), max_tokens=24))}),
            Role(
                researcher,
                {
                    ExtractKeywords.name: CollectPassages(corpus, config.max_passages, researcher.name, writer.name),
                    CollectPassages.name: summarize,
                },
            ),
            Writer(
                writer, {SummarizePassage.name: write, CollectPassages.name: write}, watch={SummarizePassage.name}
            ),  # an empty search is sent to the writer by name
        ]

    def requirements(self, config: TeamConfig) -> list[AgentMessage]:
        return [requirement(config.inputs[0].strip())]

    def report(self, config: TeamConfig, history: list[AgentMessage]) -> str | None:
        reports = [m for m in history if m.cause_by == WriteReport.name]
        return reports[-1].content if reports else None
