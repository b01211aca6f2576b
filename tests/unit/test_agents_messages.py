"""Message routing between roles, and the state a replayed history gives back."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from llmnet.agents import Action, ActionContext, AgentMessage, Draft, Environment, Persona, Role, requirement
from llmnet.agents.message import USER_REQUIREMENT
from llmnet.errors import ConfigError


class Echo(Action):
    name = "Echo"

    def run(self, ctx: ActionContext, trigger: Sequence[AgentMessage]) -> list[Draft]:
        return [Draft(f"echo {trigger[-1].content}")]


def role(name: str, watch: Sequence[str] | None = None, reacts: Sequence[str] = (USER_REQUIREMENT,)) -> Role:
    return Role(Persona(name, "tester", "test"), {cause: Echo() for cause in reacts}, watch=watch)


def message(cause_by: str, sent_from: str = "someone", send_to: Sequence[str] | None = None) -> AgentMessage:
    extra = {"send_to": frozenset(send_to)} if send_to is not None else {}
    return AgentMessage(content="x", role="r", cause_by=cause_by, sent_from=sent_from, **extra)


def test_a_message_goes_to_the_roles_watching_its_cause_and_to_those_named() -> None:
    env = Environment()
    watcher, named, other = role("Watcher"), role("Named", watch=()), role("Other", reacts=("Elsewhere",))
    env.add_roles([watcher, named, other])
    assert [r.name for r in env.recipients(message(USER_REQUIREMENT))] == ["Watcher"]
    assert [r.name for r in env.recipients(message("Unwatched", send_to=["Named"]))] == ["Named"]
    assert [r.name for r in env.recipients(message(USER_REQUIREMENT, send_to=["Other"]))] == ["Watcher", "Other"]
    assert env.recipients(message(USER_REQUIREMENT, sent_from="Watcher")) == []  # never its own, unless named
    assert [r.name for r in env.recipients(message("Elsewhere", sent_from="Other", send_to=["Other"]))] == ["Other"]


def test_publishing_stores_first_then_delivers_and_answers_mark_their_triggers_handled() -> None:
    stored: list[list[str]] = []
    env = Environment(persist=lambda messages: stored.append([m.id for m in messages]))
    a, b = role("A"), role("B", reacts=("Echo",))
    env.add_roles([a, b])
    ask = requirement("hello")
    env.publish([ask])
    assert stored == [[ask.id]] and a.pending() == [ask] and b.pending() == []
    reply = AgentMessage(content="echo hello", role="tester", cause_by="Echo", sent_from="A", reply_to=(ask.id,))
    env.publish([reply])
    assert a.pending() == [] and b.pending() == [reply]
    assert [m.id for m in env.history] == [ask.id, reply.id]


def test_a_replayed_history_gives_every_role_the_same_memory_and_pending_work() -> None:
    def team() -> tuple[Environment, Role, Role]:
        env, a, b = Environment(), role("A"), role("B", reacts=("Echo",))
        env.add_roles([a, b])
        return env, a, b

    first, a1, _ = team()
    asks = [requirement("one"), requirement("two")]
    first.publish(asks)
    done = AgentMessage(content="echo one", role="tester", cause_by="Echo", sent_from="A", reply_to=(asks[0].id,))
    first.publish([done])
    again, a2, b2 = team()
    again.replay(first.history)
    assert [m.id for m in a2.pending()] == [asks[1].id] == [m.id for m in a1.pending()]
    assert [m.id for m in b2.pending()] == [done.id]


def test_two_roles_of_one_name_are_refused() -> None:
    env = Environment()
    env.add_roles([role("A")])
    with pytest.raises(ConfigError, match="two roles named 'A'"):
        env.add_roles([role("A")])
