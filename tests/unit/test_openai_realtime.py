"""OpenAI Realtime on the real ``openai`` SDK, against a local server speaking the
Realtime event protocol (:mod:`voxtra.testing.services.openai_realtime` lists the facts
relied on), driven by the conversation with in-memory audio in real time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from voxtra.media.clock import FRAME
from voxtra.testing.services.openai_realtime import FakeRealtime, ToolCallReply
from voxtra.testing.voice import MemoryAudio
from voxtra.voice.conversation import RealtimeConversation
from voxtra.voice.emitter import EventEmitter
from voxtra.voice.errors import ProviderError
from voxtra.voice.events import VoiceEvent
from voxtra.voice.llm import Tool
from voxtra.voice.providers.openai_realtime import OpenAIRealtime
from voxtra.voice.realtime import RealtimeOptions

NAMES = ("speech_started", "speech_ended", "transcript", "response_started",
         "response_ended", "interrupted", "error", "metrics", "state")


class Call:
    """A conversation on in-memory audio, as a call would hold it."""

    def __init__(self, model: OpenAIRealtime, sample_rate: int = 8000, **kwargs: Any) -> None:
        self.audio = MemoryAudio(sample_rate)
        self.events: list[VoiceEvent] = []
        emitter = EventEmitter()
        for name in NAMES:
            emitter.on(name, self.events.append)
        self.conversation = RealtimeConversation(model, self.audio, self.audio, emitter,
                                                 sample_rate=sample_rate, **kwargs)

    def of(self, name: str) -> list[Any]:
        return [e for e in self.events if e.name == name]

    async def until(self, name: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        async with asyncio.timeout(timeout):
            while len(self.of(name)) < count:
                await asyncio.sleep(0.01)
        return self.of(name)

    async def close(self) -> None:
        await self.conversation.aclose()
        await self.audio.close()


@pytest.fixture
async def calls() -> AsyncIterator[list[Call]]:
    made: list[Call] = []
    yield made
    for call in made:
        await call.close()


def model(server: FakeRealtime, **kwargs: Any) -> OpenAIRealtime:
    return OpenAIRealtime(api_key=server.api_key, base_url=server.url, **kwargs)


def opening_hours(day: str) -> str:
    """When the store opens on ``day``."""
    return f"{day}: nine to five"


async def test_the_session_is_configured_for_the_call() -> None:
    async with FakeRealtime() as server:
        realtime = model(server, voice="marin", language="fr", threshold=0.6,
                         prefix_padding_ms=200, silence_duration_ms=650)
        session = await realtime.connect(RealtimeOptions("Be brief.", [Tool(opening_hours)],
                                                         8000))
        await asyncio.sleep(0.1)
        await session.aclose()
    assert server.queries[0]["model"] == "gpt-realtime"
    assert server.api_keys == ["test-key"]
    config = server.session
    assert config["type"] == "realtime" and config["output_modalities"] == ["audio"]
    assert config["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert config["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    assert config["audio"]["output"]["voice"] == "marin"
    assert config["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.6, "prefix_padding_ms": 200,
        "silence_duration_ms": 650, "create_response": True, "interrupt_response": True}
    assert config["audio"]["input"]["transcription"] == {
        "model": "gpt-4o-mini-transcribe", "language": "fr"}
    assert config["instructions"].startswith("Be brief.")
    [tool] = config["tools"]
    assert tool["type"] == "function" and tool["name"] == "opening_hours"
    assert tool["parameters"]["required"] == ["day"]


async def test_wideband_calls_use_24_khz_pcm_and_turns_may_be_ended_by_the_app(
        calls: list[Call]) -> None:
    async with FakeRealtime(replies=["Yes."]) as server:
        call = Call(model(server, turn_detection=False), sample_rate=16000)
        calls.append(call)
        await call.conversation.start()
        await call.audio.speak(0.5)
        await call.conversation.commit()
        [ended] = await call.until("response_ended")
    config = server.session
    assert config["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert config["audio"]["input"]["turn_detection"] is None
    assert server.appended_seconds == pytest.approx(0.5, abs=0.05)  # resampled, not slowed
    kinds = [e["type"] for e in server.client_events]
    assert kinds.index("input_audio_buffer.commit") < kinds.index("response.create")
    assert ended.result.heard_text == "Yes."
    assert call.audio.heard().size == pytest.approx(len("Yes.") * server.seconds_per_char
                                                    * 16000, rel=0.1)


async def test_a_turn_is_heard_transcribed_answered_and_played(calls: list[Call]) -> None:
    reply = "We open at nine."
    async with FakeRealtime(replies=[reply], transcripts=["When do you open?"]) as server:
        call = Call(model(server), instructions="Be brief.")
        calls.append(call)
        await call.conversation.start()
        spoke = time.monotonic()
        await call.audio.speak(0.8)
        await call.audio.silence(0.7)
        [started] = await call.until("response_started")
        seen = time.monotonic()
        [ended] = await call.until("response_ended")
    assert [t.text for t in call.of("transcript")] == ["When do you open?"]
    assert ended.result.heard_text == reply and not ended.result.interrupted
    played = call.audio.heard().size / 8000
    assert played == pytest.approx(len(reply) * server.seconds_per_char, abs=0.03)
    [metrics] = call.of("metrics")
    # From the end of the caller's speech to the reply's first frame going out: after the
    # model's first audio arrived, and within what the test saw.
    [stopped] = call.of("speech_ended")
    assert metrics.voice_to_voice == started.at - stopped.at
    assert metrics.llm_first_token is not None
    assert 0 <= metrics.llm_first_token <= metrics.voice_to_voice <= seen - spoke
    assert metrics.voice_to_voice > 0
    assert [(m.role, m.content) for m in call.conversation.history] == [
        ("system", "Be brief."), ("user", "When do you open?"), ("assistant", reply)]
    assert call.of("error") == []
    # μ-law goes up a byte a sample, as the call carried it.
    appends = [e for e in server.client_events if e["type"] == "input_audio_buffer.append"]
    assert sum(e["audio_bytes"] for e in appends) == pytest.approx(1.5 * 8000, rel=0.05)


async def test_barge_in_truncates_the_reply_at_what_was_played(calls: list[Call]) -> None:
    long_reply = "word " * 60  # 9 s of audio
    async with FakeRealtime(replies=[long_reply, "Sure."]) as server:
        call = Call(model(server, silence_duration_ms=300))
        calls.append(call)
        await call.conversation.start()
        await call.audio.speak(0.5)
        await call.audio.silence(0.4)
        await call.until("response_started")
        await call.audio.silence(0.8)
        before = call.audio.heard().size / 8000  # played before the caller talks
        await call.audio.speak(0.5)  # the caller talks over the reply
        [cut] = await call.until("interrupted")
        # No more of the first reply plays, and the second waits for the caller's silence.
        played = call.audio.heard().size / 8000
        await call.audio.silence(0.5)
        await call.until("response_ended", 2)
    [truncation] = server.truncations
    assert truncation["item_id"] == server.responses[0]["item_id"]
    heard_ms = truncation["audio_end_ms"]
    assert heard_ms == round(played * 1000)  # exactly the audio that went out
    # Cut once the caller talked, before the reply's end.
    assert 0 < before <= played < len(long_reply) * server.seconds_per_char
    assert server.responses[0]["status"] == "cancelled"
    first, second = (e.result for e in call.of("response_ended"))
    assert first.interrupted and round(first.played_seconds * 1000) == heard_ms
    assert second.heard_text == "Sure."
    assert 0 <= cut.to_silence <= FRAME  # at most the one frame already on its way
    assert call.of("error") == []  # the server accepted the truncation


async def test_tools_are_called_and_their_result_spoken(calls: list[Call]) -> None:
    async with FakeRealtime(replies=[ToolCallReply("opening_hours", {"day": "Monday"}),
                                     "On Monday: {tool_output}."]) as server:
        call = Call(model(server), tools=[opening_hours])
        calls.append(call)
        await call.conversation.start()
        await call.audio.speak(0.5)
        await call.audio.silence(0.7)
        [ended] = await call.until("response_ended")
    [output] = server.tool_outputs
    assert output["output"] == "Monday: nine to five"
    assert ended.result.heard_text == "On Monday: Monday: nine to five."
    roles = [m.role for m in call.conversation.history]
    assert roles == ["assistant", "tool", "assistant"]
    assert len(call.of("metrics")) == 1


async def test_a_rejected_key_fails_at_connect_and_cannot_be_retried() -> None:
    async with FakeRealtime(api_key="right") as server:
        with pytest.raises(ProviderError, match="rejected") as raised:
            await OpenAIRealtime(api_key="wrong", base_url=server.url).check()
    assert not raised.value.retryable
    assert "wrong" not in str(raised.value)


def test_a_missing_key_is_an_error_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        OpenAIRealtime()


async def test_a_model_error_is_reported_and_the_next_turn_works(calls: list[Call]) -> None:
    async with FakeRealtime(replies=["Fine."]) as server:
        server.fail_next_response = "the server had an error"
        call = Call(model(server))
        calls.append(call)
        await call.conversation.start()
        await call.audio.speak(0.5)
        await call.audio.silence(0.7)
        [error] = await call.until("error")
        assert error.stage == "realtime" and error.retryable
        await call.audio.speak(0.5)
        await call.audio.silence(0.7)
        [ended] = await call.until("response_ended")
    assert ended.result.heard_text == "Fine."


async def test_a_dropped_connection_ends_the_conversation_with_a_retryable_error(
        calls: list[Call]) -> None:
    async with FakeRealtime(replies=["word " * 40]) as server:
        server.drop_after_deltas = 2
        call = Call(model(server))
        calls.append(call)
        await call.conversation.start()
        await call.audio.speak(0.5)
        await call.audio.silence(0.7)
        with pytest.raises(ProviderError) as raised:
            await asyncio.wait_for(call.conversation.wait(), 5)
    assert raised.value.retryable
    # What had arrived still plays out; nothing more does.
    await asyncio.sleep(0.3)
    assert 0 < call.audio.heard().size <= 2 * 0.1 * 8000 + 160
    assert np.abs(call.audio.heard()).max() > 1000


async def test_a_server_that_never_answers_the_upgrade_times_out_retryably() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # the upgrade request is never answered; until the client goes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        realtime = OpenAIRealtime(api_key="test-key", base_url=f"http://127.0.0.1:{port}/v1",
                                  timeout=0.5)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ProviderError, match="timed out") as raised:
            await realtime.connect(RealtimeOptions())
        waited = asyncio.get_running_loop().time() - started
        # The configured timeout, not the default one.
        default = inspect.signature(OpenAIRealtime).parameters["timeout"].default
        assert 0.5 <= waited < default
        assert raised.value.retryable
    finally:
        server.close()


async def test_say_returns_what_the_caller_heard_as_the_pipelines_say_does(
        calls: list[Call]) -> None:
    """``conversation.say`` returns once the model's reply has played, with the
    :class:`SpeechResult` every other ``say`` returns; cut by the caller's speech, it
    says how much was heard; a conversation that ends first returns nothing heard."""
    whole = "Welcome to Acme, home of the finest anvils."
    counting = "One two three four five six seven eight."
    async with FakeRealtime(replies=[whole, counting], speed=1.0) as server:
        call = Call(model(server))
        calls.append(call)
        await call.conversation.start()
        result = await asyncio.wait_for(call.conversation.say(whole), 10)
        assert (result.text, result.heard_text, result.interrupted) == (whole, whole, False)
        assert "Say exactly this" in str(server.responses[0]["request"])
        cut = asyncio.ensure_future(call.conversation.say("Count to eight."))
        await call.until("response_started", 2)
        played_before = call.audio.heard().size
        async with asyncio.timeout(5):  # some of the reply has reached the caller
            while call.audio.heard().size < played_before + 0.3 * 8000:
                await asyncio.sleep(0.01)
        await call.audio.speak(0.6)  # the caller talks over it: barge-in
        result = await asyncio.wait_for(cut, 10)
        assert result.interrupted and 0 < len(result.heard_text) < len(counting)
        assert result.played_seconds < len(counting) * server.seconds_per_char
        pending = await call.conversation.announce("Goodbye.")
        await call.conversation.aclose()
        late = await asyncio.wait_for(pending, 2)
    assert late.interrupted and late.heard_text == "" and late.text == "Goodbye."
