"""The voice pipeline on in-memory audio with fake providers (real pacer, real time)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from voxtra.media.audio import Pcm
from voxtra.media.clock import MediaClock
from voxtra.media.pacer import Pacer, Playout
from voxtra.testing.voice import (
    FakeEndOfTurn,
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVAD,
    MemoryAudio,
)
from voxtra.voice.agent import AgentClient
from voxtra.voice.emitter import EventEmitter
from voxtra.voice.errors import ProviderError, VoiceNotConfiguredError
from voxtra.voice.events import VoiceEvent, VoiceState
from voxtra.voice.pipeline import Providers, VoicePipeline
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.speech import Speech
from voxtra.voice.turns import TurnSettings

FAST = VoiceSettings(turn=TurnSettings(min_endpointing_delay=0.3, unsure_endpointing_delay=0.8,
                                       max_endpointing_delay=0.9),
                     stt_timeout=0.5, tts_timeout=0.5)


class Harness:
    def __init__(self, stt: FakeSTT | None = None, tts: FakeTTS | None = None,
                 llm: FakeLLM | None = None, settings: VoiceSettings = FAST,
                 end_of_turn: FakeEndOfTurn | None = None) -> None:
        self.audio = MemoryAudio()
        self.events: list[VoiceEvent] = []
        emitter = EventEmitter()
        for name in ("speech_started", "speech_ended", "transcript", "response_started",
                     "response_ended", "interrupted", "error", "metrics", "state",
                     "response_paused", "response_resumed"):
            emitter.on(name, self.events.append)
        self.agent = AgentClient(llm) if llm is not None else None
        providers = Providers(stt, tts or FakeTTS(), llm, FakeVAD(), end_of_turn=end_of_turn)
        self.pipeline = VoicePipeline(providers, self.audio, self.audio, settings, emitter,
                                      self.agent)
        self.pipeline.start()

    def of(self, name: str) -> list[Any]:
        return [e for e in self.events if e.name == name]

    async def close(self) -> None:
        await self.pipeline.aclose()
        await self.audio.close()


@pytest.fixture
async def harness_factory() -> AsyncIterator[Any]:
    made: list[Harness] = []

    def make(**kwargs: Any) -> Harness:
        made.append(Harness(**kwargs))
        return made[-1]

    yield make
    for harness in made:
        await harness.close()


async def test_listen_returns_the_final_transcript_of_a_turn(harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT(["What time do you open?"]))
    listener = asyncio.ensure_future(h.pipeline.listen(timeout=5))
    await h.audio.silence(0.2)
    await h.audio.speak(0.8)
    await h.audio.silence(0.6)
    heard = await listener
    assert heard is not None and heard.text == "What time do you open?"
    assert heard.final and heard.ended_at - heard.started_at == pytest.approx(0.8, abs=0.12)
    assert len(h.of("speech_started")) == 1 and len(h.of("speech_ended")) == 1
    assert [e.final for e in h.of("transcript")] == [False, True]  # a guess at the pause
    states = [e.state for e in h.of("state")]
    assert states[:2] == [VoiceState.LISTENING, VoiceState.PROCESSING]
    assert await h.pipeline.listen(timeout=0.2) is None


async def test_a_pause_after_an_unfinished_phrase_does_not_end_the_turn(
        harness_factory: Any) -> None:
    def words(seconds: float) -> str:
        return "I would like to" if seconds < 1.0 else "I would like to book a table."

    h = harness_factory(stt=FakeSTT([words]))
    listener = asyncio.ensure_future(h.pipeline.listen(timeout=6))
    await h.audio.speak(0.7)
    await h.audio.silence(0.6)  # longer than min_endpointing_delay, shorter than max
    await h.audio.speak(0.7)
    await h.audio.silence(0.6)
    heard = await listener
    assert heard is not None and heard.text == "I would like to book a table."
    assert len(h.of("speech_ended")) == 1


async def test_the_end_of_turn_model_keeps_a_turn_through_a_pause_the_words_call_finished(
        harness_factory: Any) -> None:
    def words(seconds: float) -> str:  # a pause after a complete-looking clause
        return "I need a table." if seconds < 1.0 else "I need a table. For four people."

    model = FakeEndOfTurn(lambda seconds: seconds > 1.5)
    h = harness_factory(stt=FakeSTT([words]), end_of_turn=model)
    listener = asyncio.ensure_future(h.pipeline.listen(timeout=6))
    await h.audio.speak(0.7)
    await h.audio.silence(0.6)  # past min_endpointing_delay: the words alone would end it
    await h.audio.speak(0.7)
    await h.audio.silence(0.6)
    heard = await listener
    assert heard is not None and heard.text == "I need a table. For four people."
    assert len(h.of("speech_ended")) == 1
    assert len(model.judged) == 2 and model.judged[1] > model.judged[0]  # the whole turn
    # The complete turn ended at min_endpointing_delay, not max.
    assert heard.ended_at - heard.started_at == pytest.approx(2.0, abs=0.15)


async def test_words_that_end_unfinished_veto_the_model(harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT(["I would like to"]),
                        end_of_turn=FakeEndOfTurn(lambda seconds: True))
    loop = asyncio.get_running_loop()
    listener = asyncio.ensure_future(h.pipeline.listen(timeout=6))
    await h.audio.speak(0.7)
    stopped = loop.time()
    await h.audio.silence(1.2)
    heard = await listener
    assert heard is not None and loop.time() - stopped >= 0.85  # max_endpointing_delay


async def test_words_said_after_a_turn_was_taken_start_the_next_one(
        harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT(["My number is four five six.", "And my name is Ann."]))
    await h.audio.speak(0.8)
    await h.audio.silence(1.0)  # past max_endpointing_delay: the turn is taken
    await h.audio.speak(0.8)
    await h.audio.silence(1.0)
    first = await h.pipeline.listen(timeout=2)
    second = await h.pipeline.listen(timeout=2)
    assert first is not None and second is not None
    assert (first.text, second.text) == ("My number is four five six.", "And my name is Ann.")


def going_on(seconds: float) -> str:
    """A caller who pauses after "I need to change." and then goes on."""
    return "I need to change." if seconds < 1.2 else "I need to change my delivery address."


async def test_going_on_before_the_reply_is_heard_continues_the_turn(
        harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT([going_on, going_on]), tts=FakeTTS(delay=0.5),
                        llm=FakeLLM(["Sure."]))
    agent = h.agent
    assert agent is not None

    async def handler() -> tuple[Any, Any, Any]:
        first = await h.pipeline.listen(timeout=5)
        assert first is not None
        result = await h.pipeline.say(agent.reply(first.text))
        return first, result, await h.pipeline.listen(timeout=5)

    handling = asyncio.ensure_future(handler())
    await h.audio.speak(0.7)
    await h.audio.silence(0.5)  # the turn ends; the reply is being synthesised
    await h.audio.speak(0.7)  # ... and the caller goes on before hearing any of it
    await h.audio.silence(0.6)
    first, result, whole = await asyncio.wait_for(handling, 3)
    assert first.text == "I need to change." and not first.continues
    assert result.interrupted and result.heard_text == "" and result.played_seconds == 0
    assert not h.audio.sent  # the caller heard no reply to the unfinished turn
    assert whole is not None and whole.text == "I need to change my delivery address."
    assert whole.continues and whole.started_at == first.started_at
    assert whole.ended_at - whole.started_at == pytest.approx(1.9, abs=0.15)
    assert agent.history == []  # the unfinished turn and its unheard reply are gone


async def test_going_on_as_the_reply_begins_continues_the_turn(harness_factory: Any) -> None:
    # The caller goes on 0.1 s into the pause's end: the reply's first audio went out a
    # moment before, too late for the caller to have heard it and stopped.
    h = harness_factory(stt=FakeSTT([going_on, going_on]), tts=FakeTTS(delay=0.05),
                        llm=FakeLLM(["Sure, I can help with that."]))
    agent = h.agent
    assert agent is not None

    async def handler() -> tuple[Any, Any]:
        first = await h.pipeline.listen(timeout=5)
        assert first is not None
        result = await h.pipeline.say(agent.reply(first.text))
        return result, await h.pipeline.listen(timeout=5)

    handling = asyncio.ensure_future(handler())
    await h.audio.speak(0.7)
    await h.audio.silence(0.5)
    await h.audio.speak(0.7)
    went_on = asyncio.get_running_loop().time()
    await h.audio.silence(0.6)
    result, whole = await asyncio.wait_for(handling, 3)
    assert h.of("response_started")  # some of the reply went out...
    assert result.interrupted and result.heard_text != result.text
    assert h.audio.sent[-1][0] < went_on  # ... and was cut while the caller went on
    assert whole is not None and whole.continues
    assert whole.text == "I need to change my delivery address."
    assert agent.history == []


async def test_going_on_before_the_final_is_out_makes_one_turn(harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT([going_on, going_on], delay=0.3))
    await h.audio.speak(0.7)
    await h.audio.silence(0.45)  # the turn ends at 0.4 s; its final would come at 0.7 s
    await h.audio.speak(0.7)
    await h.audio.silence(0.8)
    heard = await h.pipeline.listen(timeout=2)
    assert heard is not None and heard.text == "I need to change my delivery address."
    assert not heard.continues  # listen() never returned the unfinished part
    finals = [e.text for e in h.of("transcript") if e.final]
    assert finals == ["I need to change my delivery address."]
    assert await h.pipeline.listen(timeout=0.3) is None


async def test_going_on_after_the_reply_was_heard_is_a_turn_of_its_own(
        harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT([going_on, "My delivery address."]))
    await h.audio.speak(0.7)
    await h.audio.silence(0.5)
    first = await h.pipeline.listen(timeout=1)
    assert first is not None
    await h.pipeline.say("Go on.")  # heard to its end
    await h.audio.speak(0.7)
    await h.audio.silence(0.6)
    second = await h.pipeline.listen(timeout=2)
    assert second is not None and second.text == "My delivery address."
    assert not second.continues


async def test_say_plays_the_whole_text_and_reports_it(harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT())
    result = await h.pipeline.say("Hello there. Welcome to the shop.")
    assert not result.interrupted and result.heard_text == result.text
    assert result.text == "Hello there. Welcome to the shop."
    assert result.played_seconds == pytest.approx(0.6, abs=0.05)  # six words, 100 ms each
    assert len(h.audio.heard()) == pytest.approx(0.6 * 8000, abs=200)
    assert h.of("response_started") and h.of("response_ended")


async def test_barge_in_clears_the_audio_and_the_history_keeps_what_was_heard(
        harness_factory: Any) -> None:
    long_reply = " ".join(["word"] * 40) + "."
    h = harness_factory(stt=FakeSTT(["Stop, I have a question."]),
                        llm=FakeLLM([long_reply]),
                        settings=FAST.model_copy(update={"turn": TurnSettings(
                            min_endpointing_delay=0.3, max_endpointing_delay=0.9,
                            backchannel_words=[])}))
    assert h.agent is not None
    reply = await h.agent.respond("Tell me everything.")
    speaking = asyncio.ensure_future(h.pipeline.say(reply.text))
    await asyncio.sleep(1.0)
    await h.audio.speak(0.5)
    result = await asyncio.wait_for(speaking, 2)
    await h.audio.silence(0.5)
    assert result.interrupted and 0 < len(result.heard_text) < len(result.text)
    interrupted = h.of("interrupted")
    assert len(interrupted) == 1 and interrupted[0].to_silence <= 0.021
    last_frame = h.audio.sent[-1][0]
    assert last_frame <= interrupted[0].at  # nothing sent after the clear
    assert h.agent.history[-1].content == result.heard_text
    heard = await h.pipeline.listen(timeout=2)
    assert heard is not None and heard.text == "Stop, I have a question."


async def test_a_backchannel_neither_interrupts_nor_becomes_a_turn(harness_factory: Any) -> None:
    stt = FakeSTT(["Uh-huh.", "Thanks."])
    h = harness_factory(stt=stt)
    speaking = asyncio.ensure_future(h.pipeline.say(" ".join(["word"] * 20) + "."))
    await asyncio.sleep(0.5)
    await h.audio.speak(0.5)
    await h.audio.silence(0.5)
    result = await asyncio.wait_for(speaking, 3)
    assert not result.interrupted and not h.of("interrupted")
    finals = [e for e in h.of("transcript") if e.final]
    assert [(e.text, e.backchannel) for e in finals] == [("Uh-huh.", True)]
    assert await h.pipeline.listen(timeout=0.3) is None
    await h.audio.speak(0.5)  # a turn of its own, Voxtra silent
    await h.audio.silence(0.5)
    assert await h.pipeline.listen(timeout=2) is not None
    # Over the reply the recogniser was told the backchannel words; then not.
    assert stt.hints == [tuple(h.pipeline.settings.turn.backchannel_words), ()]


def gaps(sent: list[tuple[float, Any]]) -> list[float]:
    """Pauses of more than five frames between frames sent to the caller: a pause for
    judging caller speech, not a frame or two late on a loaded machine."""
    times = [t for t, _ in sent]
    return [b - a for a, b in itertools.pairwise(times) if b - a > 0.1]


@pytest.mark.parametrize("heard", ["Uh-huh.", ""])  # a backchannel; a cough (no words)
async def test_speech_that_is_no_interruption_pauses_the_reply_which_then_plays_on(
        harness_factory: Any, heard: str) -> None:
    h = harness_factory(stt=FakeSTT([heard]))
    text = " ".join(["word"] * 20) + "."
    speaking = asyncio.ensure_future(h.pipeline.say(text))
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    onset = loop.time()
    await h.audio.speak(0.4)
    stopped = loop.time()
    await h.audio.silence(0.5)
    result = await asyncio.wait_for(speaking, 5)
    assert not result.interrupted and result.heard_text == text and not h.of("interrupted")
    [paused], [resumed] = h.of("response_paused"), h.of("response_resumed")
    # Paused once the speech had lasted min_interruption_speech, resumed after the
    # caller's pause was judged.
    least = h.pipeline.settings.turn.min_interruption_speech
    assert onset + least - 0.04 <= paused.at < stopped  # 0.04: the VAD's window
    assert resumed.paused_for == pytest.approx(resumed.at - paused.at)
    [gap] = gaps(h.audio.sent)
    assert gap == pytest.approx(resumed.paused_for, abs=0.05)
    # Nothing was dropped: every frame of the reply reached the caller.
    assert len(h.audio.sent) == round(2.0 / 0.02)


async def test_words_over_a_reply_cut_it_from_the_moment_it_paused(
        harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT(["No, wait."]))
    speaking = asyncio.ensure_future(h.pipeline.say(" ".join(["word"] * 30) + "."))
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    onset = loop.time()
    await h.audio.speak(0.4)  # shorter than max_backchannel_speech: its words decide
    stopped = loop.time()
    await h.audio.silence(0.6)
    result = await asyncio.wait_for(speaking, 5)
    assert result.interrupted
    [paused], [interrupted] = h.of("response_paused"), h.of("interrupted")
    assert not h.of("response_resumed")
    assert interrupted.at == paused.at and interrupted.to_silence == paused.to_silence
    assert onset < paused.at < stopped and h.audio.sent[-1][0] <= paused.at  # silent since


async def test_no_words_yet_at_a_pause_over_a_reply_is_no_verdict(
        harness_factory: Any) -> None:
    """A streaming recogniser lags the speech: at the caller's first short pause ("Wait,
    ...") it may have no words yet. That must not resume the reply; the words that come
    cut it, and the caller hears no reply between."""
    def words(seconds: float) -> str:  # seconds of audio heard, the prefix padding too
        return "" if seconds < 0.9 else "Wait, that is not what I asked."

    h = harness_factory(stt=FakeSTT([words]))
    speaking = asyncio.ensure_future(h.pipeline.say(" ".join(["word"] * 40) + "."))
    await asyncio.sleep(0.5)
    await h.audio.speak(0.3)
    await h.audio.silence(0.2)  # a pause, far shorter than the end of a turn
    await h.audio.speak(0.5)
    await h.audio.silence(0.6)
    result = await asyncio.wait_for(speaking, 5)
    assert result.interrupted and not h.of("response_resumed")
    [paused], [interrupted] = h.of("response_paused"), h.of("interrupted")
    assert interrupted.at == paused.at and h.audio.sent[-1][0] <= paused.at  # silent since


async def test_with_resume_off_the_reply_plays_on_while_words_are_judged(
        harness_factory: Any) -> None:
    settings = FAST.model_copy(update={"turn": TurnSettings(
        min_endpointing_delay=0.3, max_endpointing_delay=0.9,
        resume_false_interruptions=False)})
    h = harness_factory(stt=FakeSTT(["Uh-huh."]), settings=settings)
    text = " ".join(["word"] * 20) + "."
    speaking = asyncio.ensure_future(h.pipeline.say(text))
    await asyncio.sleep(0.5)
    await h.audio.speak(0.4)
    await h.audio.silence(0.5)
    result = await asyncio.wait_for(speaking, 5)
    assert not result.interrupted and not h.of("response_paused")
    assert not gaps(h.audio.sent)


async def test_speech_over_a_reply_is_judged_at_its_pause_not_mid_word(
        harness_factory: Any) -> None:
    def words(seconds: float) -> str:  # a short "uh-huh" cut in half is easily misheard
        return "I hope" if seconds < 0.45 else "Uh-huh."

    h = harness_factory(stt=FakeSTT([words]))
    speaking = asyncio.ensure_future(h.pipeline.say(" ".join(["word"] * 30) + "."))
    await asyncio.sleep(0.5)
    await h.audio.speak(0.5)  # shorter than max_backchannel_speech: its words decide
    await h.audio.silence(0.6)
    result = await asyncio.wait_for(speaking, 5)
    assert not result.interrupted and not h.of("interrupted")
    assert [(e.text, e.backchannel) for e in h.of("transcript") if e.final] == [
        ("Uh-huh.", True)]


async def test_long_speech_over_a_reply_interrupts_before_the_caller_pauses(
        harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT(["Hold on, that is not what I asked for."]))
    speaking = asyncio.ensure_future(h.pipeline.say(" ".join(["word"] * 40) + "."))
    await asyncio.sleep(0.5)
    talking = asyncio.ensure_future(h.audio.speak(2.5))
    result = await asyncio.wait_for(speaking, 5)
    assert result.interrupted and not talking.done()  # max_backchannel_speech (1.5 s) passed
    await talking
    await h.audio.silence(0.6)
    heard = await h.pipeline.listen(timeout=2)
    assert heard is not None and heard.text.startswith("Hold on")


async def test_a_streamed_reply_starts_playing_before_it_is_complete(
        harness_factory: Any) -> None:
    llm = FakeLLM(["First sentence here. And a second sentence that comes later."],
                  word_delay=0.1)
    h = harness_factory(stt=FakeSTT(), llm=llm)
    assert h.agent is not None
    result = await h.pipeline.say(h.agent.reply("Hi"))
    [generated] = llm.finished
    assert h.audio.sent[0][0] < generated  # the caller heard it before the model was done
    assert result.text == "First sentence here. And a second sentence that comes later."
    assert h.agent.history[-1].content == result.text


async def test_a_failing_or_hanging_recogniser_is_a_clear_error(harness_factory: Any) -> None:
    for stt in (FakeSTT(fail=True), FakeSTT(hang=True)):
        h = harness_factory(stt=stt)
        listener = asyncio.ensure_future(h.pipeline.listen(timeout=5))
        await h.audio.speak(0.5)
        await h.audio.silence(1.0)
        with pytest.raises(ProviderError):
            await asyncio.wait_for(listener, 3)
        assert h.of("error") and h.of("error")[0].stage == "stt"


async def test_a_failing_or_hanging_voice_is_a_clear_error(harness_factory: Any) -> None:
    for tts in (FakeTTS(fail=True), FakeTTS(hang=True)):
        h = harness_factory(tts=tts)
        with pytest.raises(ProviderError):
            await asyncio.wait_for(h.pipeline.say("Hello."), 3)
        assert h.of("error")[0].stage == "tts"


async def test_a_hanging_model_times_out() -> None:
    agent = AgentClient(FakeLLM(hang=True), first_token_timeout=0.2)
    with pytest.raises(ProviderError, match="no reply within"):
        await agent.respond("Hello?")
    assert [m.role for m in agent.history] == ["user"]


async def test_without_providers_the_verbs_say_what_is_missing() -> None:
    audio = MemoryAudio()
    pipeline = VoicePipeline(Providers(), audio, audio, FAST, EventEmitter())
    with pytest.raises(RuntimeError, match="AI pipeline not configured"):
        await pipeline.say("Hello.")
    with pytest.raises(VoiceNotConfiguredError):
        await pipeline.listen()
    await audio.close()


async def test_turn_metrics_are_reported(harness_factory: Any) -> None:
    h = harness_factory(stt=FakeSTT(["Hello?"]), llm=FakeLLM(["Hi, how can I help?"]))
    assert h.agent is not None
    listener = asyncio.ensure_future(h.pipeline.listen(timeout=5))
    await h.audio.speak(0.5)
    stopped = asyncio.get_running_loop().time()
    await h.audio.silence(0.5)
    heard = await listener
    assert heard is not None
    await h.pipeline.say(h.agent.reply(heard.text))
    metrics = h.of("metrics")[-1]
    assert metrics.end_of_speech_to_transcript is not None
    # At least the least endpointing delay; at most what the caller waited (from the
    # end of their speech, give or take the VAD's window, to the first reply frame).
    least = h.pipeline.settings.turn.min_endpointing_delay
    assert least - 0.05 <= metrics.voice_to_voice <= h.audio.sent[0][0] - stopped + 0.05
    assert metrics.llm_first_token is not None and metrics.tts_first_audio is not None


class _PacedOutput:
    """The audio port over a real :class:`Pacer` on a clock that stalls 250 ms once, as
    a busy process does (frames more than ``max_lag`` late are dropped)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.clock = MediaClock(lambda: self.now, self._sleep)
        self.pacer: Pacer[Pcm] = Pacer(lambda payload, marker: None, max_lag=0.1)
        self.pacer.start(clock=self.clock)
        self.clock.add(self, receive=self._stall_once)

    async def _sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)

    def _stall_once(self, now: float) -> None:
        if self.clock.stats.ticks == 10:
            self.now += 0.25

    def push(self, audio: Pcm, sample_rate: int | None = None,
             protected: bool = False) -> Playout:
        return self.pacer.enqueue([audio[i:i + 160] for i in range(0, len(audio), 160)],
                                  protected)

    def clear(self) -> float:
        return self.pacer.clear()


async def test_frames_dropped_on_a_busy_moment_cut_nothing() -> None:
    """A reply whose playback skipped frames too late to hear (the process was busy) was
    not interrupted: its heard text is the whole text; only the audio sent is counted."""
    output = _PacedOutput()
    text = "Hello there, welcome to the shop."
    result = await Speech(text, FakeTTS(8000), output).run()
    output.clock.remove(output)
    await output.pacer.stop()
    assert output.pacer.stats.late >= 5  # the stall dropped frames...
    assert not result.interrupted and result.heard_text == result.text == text  # ...no cut
    assert result.played_seconds == pytest.approx(0.6 - output.pacer.stats.late * 0.02)


class _QuietFirstTTS(FakeTTS):
    """A synthesiser that puts silence before its first word: a silent 20 ms piece,
    then 50 ms of near-silence (-60 dBFS) and the word."""

    async def synthesize(self, text: str) -> AsyncIterator[Pcm]:
        yield np.zeros(160, dtype=np.int16)
        hiss = np.full(400, 33, dtype=np.int16)
        async for pcm in super().synthesize(text):
            yield np.concatenate([hiss, pcm])
            hiss = hiss[:0]


class _Collected:
    def __init__(self) -> None:
        self.pushed: list[Pcm] = []

    def push(self, audio: Pcm, sample_rate: int | None = None,
             protected: bool = False) -> Playout:
        self.pushed.append(audio)
        return Playout(0)  # played at once


async def test_a_reply_starts_at_its_first_sound() -> None:
    """The silence a synthesiser puts before a reply's first word is not sent (it would
    delay the reply at the caller); the rest of the reply is sent as synthesised."""
    output = _Collected()
    tts = _QuietFirstTTS(8000)
    await Speech("Hello there.", tts, output).run()
    word = await anext(FakeTTS(8000).synthesize("Hello"))
    first = output.pushed[0]
    assert 0 < len(first) - len(word) <= 80  # at most 10 ms kept before the sound
    np.testing.assert_array_equal(first[-len(word):], word)
    np.testing.assert_array_equal(output.pushed[1], word)  # the next word: untouched
    assert len(output.pushed) == 2
