"""OpenAILLM on the real ``openai`` SDK against a local chat-completions server
(protocol facts: see :mod:`voxtra.testing.services.openai`)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from voxtra.testing.services.openai import FakeOpenAI, ToolCallReply
from voxtra.voice.agent import AgentClient
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.openai import OpenAILLM


def model(server: FakeOpenAI, **options: object) -> OpenAILLM:
    return OpenAILLM("fake-model", api_key="test-key", base_url=server.url, **options)  # type: ignore[arg-type]


async def test_a_reply_streams_word_by_word_with_the_history() -> None:
    async with FakeOpenAI(["We open at nine."]) as server:
        agent = AgentClient(model(server), "You are a shop assistant.")
        pieces = [piece async for piece in agent.reply("When do you open?")]
    assert pieces == ["We", " open", " at", " nine."]
    [request] = server.requests
    assert request["stream"] is True and request["model"] == "fake-model"
    assert request["messages"] == [
        {"role": "system", "content": "You are a shop assistant."},
        {"role": "user", "content": "When do you open?"}]
    assert agent.history[-1].content == "We open at nine."


async def test_a_paced_model_sends_its_first_token_late_then_one_a_step() -> None:
    """The fake's pace (the agents bench gives it a real model's): the first token after
    ``first_token_delay``, each further one ``token_delay`` after the one before."""
    async with FakeOpenAI(["We open at nine."], first_token_delay=0.2,
                          token_delay=0.1) as server:
        agent = AgentClient(model(server))
        began = time.monotonic()
        arrivals = [time.monotonic() - began async for _ in agent.reply("When?")]
    assert len(arrivals) == 4 and arrivals[0] >= 0.2
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(arrivals))


async def test_tool_calls_are_assembled_run_and_answered() -> None:
    def opening_hours(day: str) -> str:
        """Opening hours on a day."""
        return f"nine to five on {day}"

    replies = [ToolCallReply("opening_hours", {"day": "Saturday"}), "Nine to five."]
    async with FakeOpenAI(replies) as server:
        agent = AgentClient(model(server), tools=[opening_hours])
        response = await agent.respond("Saturday hours?")
    assert response.text == "Nine to five."
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("opening_hours", {"day": "Saturday"})]
    first, second = server.requests
    assert first["tools"][0]["function"]["name"] == "opening_hours"
    assert first["tools"][0]["function"]["parameters"]["required"] == ["day"]
    assert second["messages"][-2]["tool_calls"][0]["function"] == {
        "name": "opening_hours", "arguments": '{"day": "Saturday"}'}
    assert second["messages"][-1] == {"role": "tool", "content": "nine to five on Saturday",
                                      "tool_call_id": "call_fake1"}


async def test_an_unknown_tool_is_left_to_the_handler() -> None:
    replies = [ToolCallReply("transfer", {"queue": "sales"}), "Transferring you now."]
    async with FakeOpenAI(replies) as server:
        agent = AgentClient(model(server))
        response = await agent.respond("Sales please.")
        assert response.tool_calls[0].name == "transfer"
        agent.add_tool_result(response.tool_calls[0].id, "done")
        follow_up = await agent.respond()
    assert follow_up.text == "Transferring you now."
    assert server.requests[1]["messages"][-1]["role"] == "tool"


@pytest.mark.parametrize(("behaviour", "retryable"), [
    ({"reject_key": True}, False), ({"fail_status": 500}, True), ({"fail_status": 429}, True),
    ({"fail_status": 400}, False),
])
async def test_errors_say_whether_a_retry_can_help(behaviour: dict[str, object],
                                                   retryable: bool) -> None:
    async with FakeOpenAI(**behaviour) as server:  # type: ignore[arg-type]
        llm = model(server, max_retries=0)
        with pytest.raises(ProviderError) as raised:
            await AgentClient(llm).respond("Hello?")
        assert raised.value.retryable is retryable
        if behaviour.get("reject_key"):
            with pytest.raises(ProviderError, match="rejected"):
                await llm.check()


async def test_a_slow_model_times_out_and_a_dropped_stream_is_an_error() -> None:
    async with FakeOpenAI(["Too late."], first_token_delay=1.0) as server:
        agent = AgentClient(model(server), first_token_timeout=0.3)
        with pytest.raises(ProviderError, match="no reply within"):
            await agent.respond("Hello?")
    async with FakeOpenAI(["This reply is cut short."], drop_after_chunks=2) as server:
        agent = AgentClient(model(server, max_retries=0))
        with pytest.raises(ProviderError) as raised:
            await asyncio.wait_for(agent.respond("Hello?"), 5)
        assert raised.value.retryable


async def test_the_key_is_checked_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeOpenAI() as server:
        await model(server).check()
        assert "test-key" not in repr(model(server))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        OpenAILLM(api_key=None)
