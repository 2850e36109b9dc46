"""The speech-to-speech conversation driver on in-memory audio (real pacer, real time),
with a scripted session standing in for the model's protocol."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from voxtra.media.audio import AudioChunk
from voxtra.media.clock import FRAME, MediaClock
from voxtra.media.pacer import Pacer
from voxtra.testing.voice import MemoryAudio, voice_like
from voxtra.voice.conversation import RealtimeConversation, _Reply
from voxtra.voice.emitter import EventEmitter
from voxtra.voice.errors import ProviderError
from voxtra.voice.events import (
    Interrupted,
    SpeechResult,
    TurnMetrics,
    VoiceError,
    VoiceEvent,
    VoiceState,
)
from voxtra.voice.llm import ToolCall
from voxtra.voice.realtime import (
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    RealtimeEvent,
    RealtimeModel,
    RealtimeOptions,
    RealtimeSession,
    ReplyAudio,
    ReplyDone,
    ReplyStarted,
    ReplyText,
    ReplyToolCall,
)


class ScriptedSession(RealtimeSession):
    def __init__(self) -> None:
        self.incoming: asyncio.Queue[RealtimeEvent | Exception | None] = asyncio.Queue()
        self.audio_seconds = 0.0
        self.requests: list[tuple[str, Any]] = []

    async def send_audio(self, chunk: AudioChunk) -> None:
        self.audio_seconds += chunk.duration

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        while (event := await self.incoming.get()) is not None:
            if isinstance(event, Exception):
                raise event
            yield event

    async def respond(self, instructions: str | None = None) -> None:
        self.requests.append(("respond", instructions))

    async def commit(self) -> None:
        self.requests.append(("commit", None))

    async def cancel(self) -> None:
        self.requests.append(("cancel", None))

    async def truncate(self, item_id: str, heard_ms: int) -> None:
        self.requests.append(("truncate", (item_id, heard_ms)))

    async def tool_result(self, call_id: str, output: str) -> None:
        self.requests.append(("tool_result", (call_id, output)))

    async def aclose(self) -> None:
        self.incoming.put_nowait(None)

    def say(self, item_id: str, text: str, seconds: float) -> None:
        """A whole reply: ``seconds`` of audio in 100 ms pieces, and its words."""
        self.incoming.put_nowait(ReplyStarted(f"resp-{item_id}"))
        pieces = round(seconds * 10)
        for index in range(pieces):
            self.incoming.put_nowait(ReplyAudio(item_id, voice_like(0.1), 8000))
            if index == 0:
                self.incoming.put_nowait(ReplyText(item_id, text))
        self.incoming.put_nowait(ReplyDone("completed"))


class ScriptedModel(RealtimeModel):
    def __init__(self, turn_detection: bool = True) -> None:
        self.turn_detection = turn_detection
        self.session = ScriptedSession()
        self.options: RealtimeOptions | None = None

    async def connect(self, options: RealtimeOptions) -> RealtimeSession:
        self.options = options
        return self.session


class Harness:
    def __init__(self, model: ScriptedModel, **kwargs: Any) -> None:
        self.audio = MemoryAudio()
        self.model = model
        self.session = model.session
        self.events: list[VoiceEvent] = []
        emitter = EventEmitter()
        for name in ("speech_started", "speech_ended", "transcript", "response_started",
                     "response_ended", "interrupted", "error", "metrics", "state",
                     "agent_response"):
            emitter.on(name, self.events.append)
        self.conversation = RealtimeConversation(model, self.audio, self.audio, emitter,
                                                 sample_rate=8000, **kwargs)

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
async def harness() -> AsyncIterator[Harness]:
    made = Harness(ScriptedModel(), instructions="Be brief.")
    await made.conversation.start()
    yield made
    await made.close()


def sent_seconds(audio: MemoryAudio) -> float:
    return sum(len(pcm) for _, pcm in audio.sent) / audio.sample_rate


async def test_a_turn_is_heard_answered_and_measured(harness: Harness) -> None:
    await harness.audio.speak(0.2)
    assert harness.session.audio_seconds == pytest.approx(0.2, abs=0.03)
    session = harness.session
    before = time.monotonic()
    session.incoming.put_nowait(CallerSpeechStarted())
    session.incoming.put_nowait(CallerSpeechStopped())
    session.incoming.put_nowait(CallerTranscript("When do you open?"))
    session.say("item-1", "At nine.", 0.6)
    [started] = await harness.until("response_started")
    seen = time.monotonic()
    [ended] = await harness.until("response_ended")
    result: SpeechResult = ended.result
    assert result == SpeechResult("At nine.", "At nine.", False, pytest.approx(0.6))
    assert sent_seconds(harness.audio) == pytest.approx(0.6, abs=0.02)
    [metrics] = harness.of("metrics")
    assert isinstance(metrics, TurnMetrics)
    assert metrics.llm_first_token is not None and metrics.end_of_speech_to_transcript is not None
    # From the end of the caller's speech to the reply's first frame going out: after the
    # model's first audio arrived, and within what the test saw.
    [stopped] = harness.of("speech_ended")
    assert metrics.voice_to_voice == started.at - stopped.at
    assert 0 <= metrics.llm_first_token <= metrics.voice_to_voice <= seen - before
    assert metrics.voice_to_voice > 0
    assert metrics.barge_in_to_silence is None
    assert [(m.role, m.content) for m in harness.conversation.history] == [
        ("system", "Be brief."), ("user", "When do you open?"), ("assistant", "At nine.")]
    states = [e.state for e in harness.of("state")]
    assert states == [VoiceState.LISTENING, VoiceState.PROCESSING, VoiceState.SPEAKING,
                      VoiceState.LISTENING]
    assert session.requests == []


async def test_barge_in_clears_the_audio_and_truncates_at_what_was_heard(
        harness: Harness) -> None:
    session = harness.session
    session.incoming.put_nowait(CallerSpeechStopped())
    text = "one two three four five six seven eight nine ten"
    words = text.split(" ")
    session.say("item-1", text, 3.0)
    await harness.until("response_started")
    async with asyncio.timeout(5):
        while sent_seconds(harness.audio) < 0.5:  # half a second of the reply is heard
            await asyncio.sleep(0.01)
    before = sent_seconds(harness.audio)
    session.incoming.put_nowait(CallerSpeechStarted())
    [cut] = await harness.until("interrupted")
    assert isinstance(cut, Interrupted)
    [(kind, (item, heard_ms))] = session.requests  # the server cancels its own reply
    assert (kind, item) == ("truncate", "item-1")
    played = sent_seconds(harness.audio)
    assert heard_ms == round(played * 1000)  # exactly the audio that went out
    assert 0.5 <= before <= played < 3.0  # cut where the caller spoke, before its end
    # Audio of the cut reply still on its way from the model is not played.
    session.incoming.put_nowait(ReplyAudio("item-1", voice_like(0.5), 8000))
    [ended] = await harness.until("response_ended")
    await asyncio.sleep(0.2)
    assert sent_seconds(harness.audio) == played
    result: SpeechResult = ended.result
    # The words in the share of the reply's audio that was played: "one two" at 0.5 s.
    heard_words = words[:round(len(words) * heard_ms / 3000)]
    assert len(heard_words) >= 2
    assert result.interrupted and result.heard_text == " ".join(heard_words)
    assert harness.conversation.history[-1].content == " ".join(heard_words)
    [metrics] = harness.of("metrics")
    # Clearing the queue leaves at most the one frame already on its way.
    assert metrics.barge_in_to_silence == cut.to_silence
    assert 0 <= cut.to_silence <= FRAME


async def test_interrupt_cancels_a_reply_still_being_generated(harness: Harness) -> None:
    session = harness.session
    session.incoming.put_nowait(ReplyStarted("resp-1"))
    session.incoming.put_nowait(ReplyAudio("item-1", voice_like(2.0), 8000))
    await harness.until("response_started")
    cut = harness.conversation.interrupt()
    assert cut is not None and cut.result.interrupted
    await asyncio.sleep(0.05)
    assert [kind for kind, _ in session.requests] == ["truncate", "cancel"]
    assert harness.conversation.interrupt() is None


async def test_tools_run_and_the_model_is_asked_again() -> None:
    harness = Harness(ScriptedModel())

    def opening_hours(day: str) -> str:
        """When the store opens on ``day``."""
        return f"{day}: 9 to 5"

    harness.conversation.tool(opening_hours)
    await harness.conversation.start()
    try:
        assert harness.model.options is not None
        assert [t.name for t in harness.model.options.tools] == ["opening_hours"]
        session = harness.session
        session.incoming.put_nowait(ReplyStarted("resp-1"))
        session.incoming.put_nowait(ReplyToolCall(ToolCall("call-1", "opening_hours",
                                                            {"day": "Monday"})))
        session.incoming.put_nowait(ReplyToolCall(ToolCall("call-2", "unknown", {})))
        session.incoming.put_nowait(ReplyDone("completed"))
        async with asyncio.timeout(2):
            while ("respond", None) not in session.requests:
                await asyncio.sleep(0.01)
        assert session.requests[:2] == [
            ("tool_result", ("call-1", "Monday: 9 to 5")),
            ("tool_result", ("call-2", "error: there is no tool named unknown"))]
        roles = [m.role for m in harness.conversation.history]
        assert roles == ["assistant", "tool", "tool"]
        assert harness.of("response_ended") == []  # nothing was said yet
        session.say("item-2", "Monday from nine to five.", 0.3)
        await harness.until("metrics")
    finally:
        await harness.close()


async def test_a_lost_connection_ends_the_conversation_with_a_typed_error(
        harness: Harness) -> None:
    harness.session.incoming.put_nowait(ProviderError("model", "connection lost"))
    with pytest.raises(ProviderError, match="connection lost"):
        await asyncio.wait_for(harness.conversation.wait(), 2)
    [error] = harness.of("error")
    assert isinstance(error, VoiceError) and error.stage == "realtime" and error.retryable
    assert harness.conversation.state is VoiceState.IDLE


async def test_without_the_models_turn_detection_commit_ends_the_turn() -> None:
    harness = Harness(ScriptedModel(turn_detection=False))
    await harness.conversation.start()
    try:
        await harness.audio.feed(np.zeros(800, dtype=np.int16))
        await harness.conversation.commit()
        assert harness.session.requests == [("commit", None), ("respond", None)]
        assert len(harness.of("speech_ended")) == 1
        # A reply cut by the caller's speech is cancelled by Voxtra: the model would not.
        harness.session.incoming.put_nowait(ReplyStarted("resp-1"))
        harness.session.incoming.put_nowait(ReplyAudio("item-1", voice_like(1.0), 8000))
        await harness.until("response_started")
        harness.session.incoming.put_nowait(CallerSpeechStarted())
        await harness.until("interrupted")
        await asyncio.sleep(0.05)
        assert [kind for kind, _ in harness.session.requests[2:]] == ["truncate", "cancel"]
    finally:
        await harness.close()


async def test_a_reply_with_frames_dropped_on_a_busy_moment_was_heard_whole() -> None:
    """Frames the pacer dropped as too late cut nothing: the reply is heard whole, and
    the model's truncation point is where playback got (not the frames sent)."""
    now = [0.0]
    pacer: Pacer[bytes] = Pacer(lambda payload, marker: None, max_lag=0.1)
    pacer.start(own_phase=False, clock=MediaClock(lambda: now[0]))
    reply = _Reply("resp-1", TurnMetrics(), 0.0, "item-1", "We open at nine.")
    reply.playouts.append(pacer.enqueue([b"f"] * 20))
    await asyncio.sleep(0)  # the first frame leaves at once
    for now[0] in [0.02, 0.04] + [0.3 + 0.02 * n for n in range(20)]:  # stalled at 0.04
        pacer.tick(now[0])
    [playout] = reply.playouts
    # Frames due from 0.06 s to about 0.2 s were more than 100 ms late at 0.3 s: dropped.
    assert playout.late in (7, 8) and playout.sent + playout.late == 20
    assert reply.result() == SpeechResult("We open at nine.", "We open at nine.", False,
                                          pytest.approx(playout.sent * FRAME))
    assert reply.heard_ms == 400
