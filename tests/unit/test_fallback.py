"""Fallback lists switch to the next provider within the turn."""

from __future__ import annotations

import asyncio

from voxtra.testing.voice import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryAudio
from voxtra.voice.agent import AgentClient
from voxtra.voice.emitter import EventEmitter
from voxtra.voice.fallback import FallbackLLM, FallbackSTT, FallbackTTS
from voxtra.voice.pipeline import Providers, VoicePipeline
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.turns import TurnSettings


async def test_a_failing_or_hanging_recogniser_gives_the_turn_to_the_next() -> None:
    for broken in (FakeSTT(["never"], fail=True), FakeSTT(["never"], hang=True)):
        backup = FakeSTT(["What time is it?"])
        audio = MemoryAudio()
        settings = VoiceSettings(turn=TurnSettings(min_endpointing_delay=0.3,
                                                   max_endpointing_delay=0.6))
        pipeline = VoicePipeline(
            Providers(FallbackSTT([broken, backup], timeout=0.3), FakeTTS(), None, FakeVAD()),
            audio, audio, settings, EventEmitter())
        listener = asyncio.ensure_future(pipeline.listen(timeout=5))
        await audio.speak(0.6)
        await audio.silence(1.5)
        heard = await listener
        assert heard is not None and heard.text == "What time is it?"
        assert backup.streams >= 1
        await pipeline.aclose()
        await audio.close()


async def test_a_model_that_fails_before_its_first_token_is_replaced() -> None:
    agent = AgentClient(FallbackLLM([FakeLLM(fail=True), FakeLLM(["Hello from the backup."])]))
    response = await agent.respond("Hi")
    assert response.text == "Hello from the backup."
    assert [m.role for m in agent.history] == ["user", "assistant"]


async def test_a_voice_that_fails_is_replaced_at_the_first_voices_rate() -> None:
    tts = FallbackTTS([FakeTTS(16000, fail=True), FakeTTS(8000)])
    audio = [pcm async for pcm in tts.synthesize("two words")]
    assert tts.sample_rate == 16000
    assert abs(sum(len(a) for a in audio) - 0.2 * 16000) < 400  # 0.2 s at 16 kHz
