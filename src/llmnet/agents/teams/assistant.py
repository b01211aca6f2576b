"""The assistant team, a "combination agent": an intent-recognition role classifies each user turn
and hands it, by name, to the role for that intent: article writing, context analysis, reply, or
phase control. When the model's label cannot be read, keyword rules decide."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from llmnet.agents.action import Action, ActionContext, Draft, Persona
from llmnet.agents.message import USER_REQUIREMENT, AgentMessage, requirement
from llmnet.agents.role import Role
from llmnet.agents.teams.base import TeamConfig, TeamRecipe

GENERAL, AUTO = "llmnet/general", "llmnet/auto"
INTENTS = ("article", "analysis", "phase", "reply")
PHASES = ("gathering", "drafting", "review", "done")
ROUTES = {"article": "ArticleWriter", "analysis": "ContextAnalyst", "phase": "PhaseController", "reply": "Replier"}
_RULES = (
    ("article", r"\b(write|draft|compose)\b.*\b(article|essay|post|story|piece)\b|\barticle\b"),
    ("analysis", r"\b(analy[sz]e|analysis|summari[sz]e|so far|conversation|context)\b"),
    ("phase", r"\b(next (step|phase|stage)|move on|start over|phase|stage|we are done|finish|wrap up)\b"),
)


def rule_intent(turn: str) -> str:
    """The intent keyword rules give a turn; ``reply`` when none matches."""
    lowered = turn.lower()
    return next((intent for intent, pattern in _RULES if re.search(pattern, lowered)), "reply")


def parse_intent(reply: str, turn: str) -> tuple[str, str]:
    """(intent, decided by): the first intent label in the model's reply, else the rules."""
    words = re.findall(r"[a-z]+", reply.lower())
    label = next((w for w in words if w in INTENTS), None)
    return (label, "model") if label else (rule_intent(turn), "rules")


def parse_phase(reply: str, turn: str) -> str:
    words = re.findall(r"[a-z]+", f"{reply} {turn}".lower())
    return next((w for w in words if w in PHASES), "gathering")


def transcript(history: Sequence[AgentMessage], before: int) -> str:
    """User turns before turn ``before`` with the answers given to them so far."""
    lines = []
    for m in history:
        if m.cause_by == USER_REQUIREMENT and m.data.get("turn", 0) < before:
            lines.append(f"User: {m.content}")
        elif m.data.get("answer") and m.data.get("turn", before) < before:
            lines.append(f"{m.sent_from}: {m.content}")
    return "\n".join(lines) or "(no earlier turns)"


class RecognizeIntent(Action):
    name = "RecognizeIntent"
    prompt = (
        "Classify the user's message as exactly one of: article (asks for an article or essay to be written), "
        "analysis (asks to analyse or summarise the conversation), phase (asks to move to another stage, finish "
        "or start over), reply (anything else). Answer with the one word.\nMessage: {turn}"
    )

    def run(self, ctx: ActionContext, trigger: Sequence[AgentMessage]) -> list[Draft]:
        turn = trigger[-1]
        intent, by = parse_intent(ctx.ask(self.name, self.prompt.format(turn=turn.content), self.spec), turn.content)
        return [
            Draft(
                turn.content,
                frozenset({ROUTES[intent]}),
                {"turn": turn.data["turn"], "intent": intent, "decided_by": by},
            )
        ]


class Answer(Action):
    """A specialist's answer to a turn routed to it."""

    name = "Answer"

    def run(self, ctx: ActionContext, trigger: Sequence[AgentMessage]) -> list[Draft]:
        turn = trigger[-1]
        context = transcript(ctx.history, turn.data["turn"])
        text = ctx.ask(self.name, self.prompt.format(turn=turn.content, context=context), self.spec)
        return [Draft(self.finish(text, turn.content), frozenset({"user"}), self.data(text, turn))]

    def finish(self, text: str, turn: str) -> str:
        return text or "(no answer)"

    def data(self, text: str, turn: AgentMessage) -> dict[str, object]:
        return {"turn": turn.data["turn"], "intent": turn.data["intent"], "answer": True}


class WriteArticle(Answer):
    name = "WriteArticle"
    prompt = "Write a short article, a title line and two short paragraphs, for this request: {turn}"


class AnalyzeContext(Answer):
    name = "AnalyzeContext"
    prompt = (
        "Conversation so far:\n{context}\n\nThe user now says: {turn}\nAnalyse the conversation in two or three "
        "sentences: its topics, what the user wants, and what is still open."
    )


class Reply(Answer):
    name = "Reply"
    prompt = "Conversation so far:\n{context}\n\nReply briefly and helpfully to the user's message: {turn}"


class ControlPhase(Answer):
    name = "ControlPhase"
    prompt = (
        "Conversation so far:\n{context}\n\nThe user now says: {turn}\nThe phases of this conversation are "
        "gathering, drafting, review and done. Name the phase to move to as one word, then say why in one sentence."
    )

    def finish(self, text: str, turn: str) -> str:
        return f"phase: {parse_phase(text, turn)}" + (f"\n\n{text}" if text else "")

    def data(self, text: str, turn: AgentMessage) -> dict[str, object]:
        return {**super().data(text, turn), "phase": parse_phase(text, turn.content)}


class AssistantTeam(TeamRecipe):
    name: ClassVar[str] = "assistant"
    description: ClassVar[str] = "each user turn classified by intent and answered by the role for it"

    def roles(self, config: TeamConfig) -> list[Role]:
        spec = config.spec((GENERAL, AUTO))
        recognizer = Role(
            Persona(
                "IntentRecognizer",
                "intent classifier",
                "route each user message to the right specialist",
                "answer with one word",
            ),
            {USER_REQUIREMENT: RecognizeIntent(config.spec((GENERAL, AUTO), max_tokens=8))},
        )
        specialists = [
            (ROUTES["article"], "article writer", "write clear short articles", WriteArticle(spec)),
            (ROUTES["analysis"], "context analyst", "analyse what the conversation is about", AnalyzeContext(spec)),
            (ROUTES["reply"], "assistant", "answer the user helpfully", Reply(spec)),
            (
                ROUTES["phase"],
                "phase controller",
                "keep the conversation moving through its phases",
                ControlPhase(spec),
            ),
        ]
        return [recognizer] + [
            Role(Persona(name, profile, goal), {RecognizeIntent.name: action}, watch=())
            for name, profile, goal, action in specialists
        ]

    def requirements(self, config: TeamConfig) -> list[AgentMessage]:
        return [requirement(turn.strip(), turn=i) for i, turn in enumerate(config.inputs, 1)]

    def report(self, config: TeamConfig, history: list[AgentMessage]) -> str | None:
        answers = {m.data["turn"]: m for m in history if m.data.get("answer")}
        routed = {m.data["turn"]: m for m in history if m.cause_by == RecognizeIntent.name}
        turns = [m for m in history if m.cause_by == USER_REQUIREMENT]
        if len(answers) < len(turns):
            return None
        parts = ["# Conversation", ""]
        for m in turns:
            n = m.data["turn"]
            how = routed[n].data
            parts += [
                f"## Turn {n}",
                "",
                f"**User:** {m.content}",
                "",
                f"**Intent:** {how['intent']} ({how['decided_by']}), handled by {answers[n].sent_from}",
                "",
                answers[n].content,
                "",
            ]
        return "\n".join(parts).rstrip() + "\n"
