"""README: "The models are loaded once per process and shared by all calls; each call has
its own conversation, turn-taking state and barge-in." Three calls at once through the
sandbox Asterisk, on fake providers that count their loads (protocol facts: those of
``test_voice.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.handlers import agent
from voxtra.sandbox.audio import write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.voice import FakeLLM, FakeSTT, FakeTTS, FakeVAD, voice_like
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.turns import TurnSettings


class Loads:
    """Counts ``load()`` calls of the providers it is mixed into."""

    loads = 0

    def load(self) -> None:
        self.loads += 1


class CountedSTT(Loads, FakeSTT): ...
class CountedTTS(Loads, FakeTTS): ...
class CountedLLM(Loads, FakeLLM): ...
class CountedVAD(Loads, FakeVAD): ...


async def test_three_calls_share_the_models_loaded_once(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    stt, tts, llm, vad = (CountedSTT(["When do you open?"] * 3), CountedTTS(),
                          CountedLLM(["At nine."]), CountedVAD())
    settings = voxtra_settings.model_copy(update={"voice": VoiceSettings(
        turn=TurnSettings(min_endpointing_delay=0.3, max_endpointing_delay=0.6))})
    app = VoxtraApp(settings, stt=stt, llm=llm, tts=tts, vad=vad)
    calls: list[CallSession] = []

    async def setup(call: CallSession) -> None:
        calls.append(call)

    app.route()(agent(greeting="Hello.", setup=setup))
    caller = write_ulaw_wav(tmp_path / "caller.wav", np.concatenate(
        [np.zeros(12000, np.int16), voice_like(0.8), np.zeros(24000, np.int16)]))
    async with app:
        results = await asyncio.gather(*(sip_caller.call(CallerScript(
            "810", audio=caller, hangup_after=6)) for _ in range(3)))
    assert all(r.succeeded for r in results), [r.stderr for r in results]
    assert (stt.loads, tts.loads, llm.loads, vad.loads) == (1, 1, 1, 1)
    assert len({id(call) for call in calls}) == 3
    assert tts.spoken.count("Hello.") == 3 and tts.spoken.count("At nine.") == 3
    for call in calls:  # each its own conversation
        assert [(m.role, m.content) for m in call.agent.history] == [
            ("user", "When do you open?"), ("assistant", "At nine.")]
