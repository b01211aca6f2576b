"""A scripted model for the research and assistant teams: replies chosen by what the prompt asks."""

from __future__ import annotations

from tests.fake_coordinator import prompt_of


def research_reply(model: str, messages: list[dict[str, str]]) -> str:
    prompt = prompt_of(messages)
    if "JSON list" in prompt:
        return 'Keywords: ["batteries", "solar"]'
    if "Passage:" in prompt:
        passage = prompt.split("Passage:", 1)[1]
        if "battery" in passage.lower() or "batteries" in passage.lower():
            return "Batteries store solar energy for the evening."
        return "Not relevant."
    if "Notes:" in prompt:
        return "Batteries shift solar output into the evening [1]."
    return "ok"
