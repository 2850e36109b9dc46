"""The ready-made voice handlers through the sandbox Asterisk, with fake providers of
controlled behaviour: a whole conversation, transcription to a sink, and what a call
does when a provider fails or hangs (a spoken fallback or a prompt, then a clean hangup).

The caller's "speech" is a loud tone that FakeVAD hears as speech; FakeSTT says
what was said. Protocol facts relied on are those of ``test_voice.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.handlers import agent, say, transcribe
from voxtra.sandbox.audio import rms, write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.voice import FakeLLM, FakeSTT, FakeTTS, FakeVAD, voice_like
from voxtra.voice.events import VoiceError
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.turns import TurnSettings


def utterances(tmp_path: Path, *seconds: float) -> Path:
    """1.5 s of silence, then a 0.8 s utterance after each gap in ``seconds``."""
    silence = np.zeros(12000, dtype=np.int16)
    parts = [silence]
    for gap in seconds:
        parts += [voice_like(0.8), np.zeros(int(gap * 8000), dtype=np.int16)]
    return write_ulaw_wav(tmp_path / "caller.wav", np.concatenate(parts))


def quick(settings: VoxtraSettings, **voice: Any) -> VoxtraSettings:
    fast = VoiceSettings(turn=TurnSettings(min_endpointing_delay=0.3,
                                           max_endpointing_delay=0.6), **voice)
    return settings.model_copy(update={"voice": fast})


async def test_the_agent_handler_holds_a_conversation(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    tts = FakeTTS()
    llm = FakeLLM(["We open at nine.", "Goodbye then."])
    app = VoxtraApp(quick(voxtra_settings), stt=FakeSTT(["When do you open?", "Thanks."]),
                    llm=llm, tts=tts, vad=FakeVAD())
    calls: list[CallSession] = []

    async def setup(call: CallSession) -> None:
        calls.append(call)

    app.route()(agent(greeting="Hello, Acme here.", setup=setup))
    async with app:
        result = await sip_caller.call(CallerScript(
            "810", audio=utterances(tmp_path, 1.5, 3.0), hangup_after=6, capture_audio=True))
    assert result.succeeded, result.stderr
    assert tts.spoken == ["Hello, Acme here.", "We open at nine.", "Goodbye then."]
    history = [(m.role, m.content) for m in calls[0].agent.history]
    assert history == [("user", "When do you open?"), ("assistant", "We open at nine."),
                       ("user", "Thanks."), ("assistant", "Goodbye then.")]
    assert rms(result.heard()) > 100  # the caller heard the replies


async def test_a_route_declared_for_the_agent_runs_the_conversation(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    tts = FakeTTS()
    app = VoxtraApp(quick(voxtra_settings, greeting="Welcome."), stt=FakeSTT(["Hi."]),
                    llm=FakeLLM(["Hello to you."]), tts=tts, vad=FakeVAD())
    replies: list[str] = []

    @app.route(agent=True)
    async def support(call: CallSession) -> None:
        call.on("response_ended", lambda e: replies.append(e.result.text))

    async with app:
        result = await sip_caller.call(CallerScript(
            "811", audio=utterances(tmp_path, 2.0), hangup_after=4))
    assert result.succeeded, result.stderr
    assert replies == ["Welcome.", "Hello to you."]


async def test_the_transcribe_and_say_handlers(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    tts = FakeTTS()
    heard: list[str] = []
    app = VoxtraApp(quick(voxtra_settings), stt=FakeSTT(["First thing.", "Second thing."]),
                    tts=tts, vad=FakeVAD())
    app.route(did="812")(transcribe(lambda event: heard.append(event.text)))
    app.route(did="813")(say("Thank you for calling."))
    async with app:
        first = await sip_caller.call(CallerScript(
            "812", audio=utterances(tmp_path, 1.0, 2.0), hangup_after=5))
        second = await sip_caller.call(CallerScript("813", capture_audio=True))
    assert first.succeeded and second.succeeded, (first.stderr, second.stderr)
    assert heard == ["First thing.", "Second thing."]
    assert tts.spoken == ["Thank you for calling."]
    assert second.hung_up_by_remote
    assert len(second.heard()) >= 0.38 * 8000  # four words of 100 ms, heard to the end


@pytest.mark.parametrize(("failure", "stage"), [
    ("llm hangs", "llm"), ("llm fails", "llm"), ("stt fails", "stt"), ("stt hangs", "stt"),
    ("tts fails", "tts"),
])
async def test_a_failing_provider_ends_the_call_cleanly(
        failure: str, stage: str, voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
        tmp_path: Path) -> None:
    # Longer than the caller waits for the app's BYE (15 s): an app that let the call
    # linger until its silence timeout, instead of ending it on the error, fails below.
    settings = quick(voxtra_settings, llm_timeout=0.5, stt_timeout=0.5, silence_timeout=60.0,
                     fallback_message="Sorry, goodbye.")
    tts = FakeTTS(fail=failure == "tts fails")
    stt = FakeSTT(["Hello?"], fail=failure == "stt fails", hang=failure == "stt hangs")
    llm = FakeLLM(fail=failure == "llm fails", hang=failure == "llm hangs")
    app = VoxtraApp(settings, stt=stt, llm=llm, tts=tts, vad=FakeVAD())
    errors: list[VoiceError] = []
    ended: list[CallSession] = []
    order: list[str] = []

    async def setup(call: CallSession) -> None:
        call.on("error", errors.append)
        call.on("error", lambda e: order.append("error"))
        call.on_hangup(ended.append)
        call.on_hangup(lambda: order.append("hangup"))

    app.route()(agent(greeting=None, setup=setup))
    async with app:
        result = await sip_caller.call(CallerScript(
            "814", audio=utterances(tmp_path, 4.0), wait_for_bye=15, capture_audio=True))
    # The app hung up, within the caller's 15 s: on the error, the silence timeout
    # being far off.
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert [e.stage for e in errors][:1] == [stage]
    assert len(ended) == 1
    assert order[0] == "error" and order[-1] == "hangup", order
    if failure == "tts fails":
        assert rms(result.heard()) > 100  # Asterisk's own error prompt instead
    else:
        assert tts.spoken == ["Sorry, goodbye."]
