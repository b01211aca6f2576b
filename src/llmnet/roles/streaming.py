"""How the coordinator streams an answer: live from the respondent whose answer will be final, or
whole once it is chosen among finished answers (see :func:`stream`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from llmnet.errors import LlmnetError, NoRespondents
from llmnet.roles.collaboration import trusts_lead
from llmnet.roles.protocol import PeerAnswer
from llmnet.types import Candidate

if TYPE_CHECKING:
    from llmnet.roles.coordinator import Answer, Coordinator, TaskRun


async def events(c: Coordinator, endpoint: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The server-sent events of one streaming respondent call."""
    async for line in c.http.stream_lines(f"{endpoint}/v1/respond", body, c.settings.respondent_timeout_s):
        if line.startswith("data: "):
            event: dict[str, Any] = json.loads(line[6:])
            if "error" in event:
                raise NoRespondents(f"respondent failed mid-stream: {event['error']['message']}")
            yield event


async def stream(c: Coordinator, run: TaskRun, max_tokens: int) -> AsyncIterator[str]:
    """The answer's text as it becomes final: live from the respondent when one respondent answers
    alone (k = 1 without debate, or an adaptive task's trusted lead), otherwise whole once chosen."""
    if run.k == 1 and run.rounds == 0:
        async for delta in stream_single(c, run, max_tokens):
            yield delta
        return
    queue = await c.queue(run) if run.adaptive else []
    if trusts_lead(run, queue, c.leads):
        run.trusted_lead = True
        async for delta in stream_single(c, run, max_tokens, queue):
            yield delta
        return
    await c.run(run, max_tokens, queue or None)
    if run.final:
        yield run.final


async def stream_single(
    c: Coordinator, run: TaskRun, max_tokens: int, queue: list[Candidate] | None = None
) -> AsyncIterator[str]:
    """One respondent: pass the first working respondent's tokens straight through, then rate."""
    queue = queue if queue is not None else await c.queue(run)
    payload = c.payload(run, 0, [], max_tokens)
    for candidate in queue:
        who, started = candidate.provider, False
        run.chosen.append(candidate)
        run.tried.append(who)
        try:
            endpoint = await c._endpoint(who)
            body = {"assignment": c._assignment(run, who, payload), "payload": payload.model_dump(),
                    "stream": True}  # fmt: skip
            async for event in events(c, endpoint, body):
                if "delta" in event:
                    started = True
                    yield event["delta"]
                elif "response" in event:
                    run.answers = {who: c._answer(who, endpoint, event)}
                    run.answers[who].payload = payload
                    run.respondent_tokens += spent(run.answers[who])
        except (LlmnetError, ValueError, KeyError) as exc:
            run.failed[who] = f"{type(exc).__name__}: {exc}"[:300]
            c.respondent_health.missed(who)
            if started:  # the requester already has part of this answer: no silent switch
                raise NoRespondents(f"respondent {who} failed mid-answer") from None
            continue
        if run.answers:
            c.respondent_health.succeeded(who)
            run.history.append({who: run.answers[who].text})
            await c.rate(run)
            c.note_first_answers(run)
            return
    raise NoRespondents(f"none of the {len(run.tried)} respondents tried for {run.domain!r} answered")


async def synthesize(c: Coordinator, run: TaskRun, max_tokens: int) -> AsyncIterator[str]:
    """Stream a synthesis of all answers by the top-rated respondent."""
    who = run.final_respondent
    peers = [PeerAnswer(respondent=o, text=a.text) for o, a in run.answers.items()]
    payload = c.payload(run, len(run.history), peers, max_tokens)
    endpoint = run.answers[who].endpoint
    body = {
        "assignment": c._assignment(run, who, payload),
        "payload": payload.model_dump(),
        "stream": True,
    }
    async for event in events(c, endpoint, body):
        if "delta" in event:
            yield event["delta"]
        elif "response" in event:
            synthesis = c._answer(who, endpoint, event)
            run.respondent_tokens += spent(synthesis)
            run.final = synthesis.text


def spent(answer: Answer) -> int:
    """Prompt and completion tokens of one generation, as its respondent signed them."""
    message = answer.reply.response["message"]
    return int(message["prompt_tokens"]) + int(message["completion_tokens"])
