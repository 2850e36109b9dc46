"""The reference CallSession API, written as its examples are, on one real call.

Each verb's effect is checked where it can be seen: the caller's capture (prompt,
speech, hold music, the tone the app sent), the recording's file, the values the
handler read. Protocol facts relied on: SIP INFO ``application/dtmf-relay`` reaches ARI
as ``ChannelDtmfReceived``; the fake providers of ``voxtra.testing.voice`` (a loud tone
is speech to FakeVAD; FakeSTT and FakeLLM answer from their scripts).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

from voxtra import CallSession, CallState, Direction, VoxtraApp, VoxtraSettings
from voxtra.recording.sinks import LocalFileSink
from voxtra.sandbox.audio import dominant_frequency, tone, write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.testing.voice import FakeLLM, FakeSTT, FakeTTS, FakeVAD, voice_like
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.turns import TurnSettings


async def test_the_reference_examples_run_on_a_real_call(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    settings = voxtra_settings.model_copy(update={"voice": VoiceSettings(
        turn=TurnSettings(min_endpointing_delay=0.3, max_endpointing_delay=0.6))})
    app = VoxtraApp(settings, stt=FakeSTT(["What are your hours?"]),
                    llm=FakeLLM(["Nine to five."]), tts=FakeTTS(), vad=FakeVAD(),
                    recording_sink=LocalFileSink(tmp_path / "recordings"))
    seen: dict[str, Any] = {}
    hangups: list[str] = []

    @app.route(team="support")
    async def handle(call: CallSession) -> None:
        @call.on_hangup
        def goodbye() -> None:  # no argument, as in the reference
            hangups.append("no-arg")

        call.on_hangup(lambda c: hangups.append(c.id))
        seen.update(id=call.id, caller_id=call.caller_id, called_number=call.called_number,
                    direction=call.direction, app_name=call.app_name,
                    metadata=dict(call.metadata), before=call.state)
        await call.answer()
        seen["state"] = call.state
        await call.record_start()
        seen["digit"] = await call.listen_dtmf(timeout=5)
        heard = await call.listen(timeout=8)
        seen["heard"] = heard.text if heard else None
        response = await call.agent.respond(seen["heard"])
        seen["reply"] = response.text
        call.agent.add_tool_result("lookup-1", {"open": "9-17"})
        seen["history"] = [m.role for m in call.agent.history]
        await call.say(response.text)
        await call.send_dtmf("7")
        await call.hold()
        await asyncio.sleep(0.5)
        await call.unhold()
        chunks = []
        async for chunk in call.audio_stream():
            chunks.append(chunk)
            if len(chunks) == 10:
                break
        seen["chunks"] = (len(chunks), chunks[0].sample_rate)
        await call.send_audio(tone(1000, 0.6))
        await asyncio.sleep(0.8)
        seen["stopped"] = await call.record_stop()
        seen["duration"] = call.duration
        await call.hangup()

    caller_audio = write_ulaw_wav(tmp_path / "caller.wav", np.concatenate([
        np.zeros(16000, dtype=np.int16), voice_like(0.8), np.zeros(48000, dtype=np.int16)]))
    async with app:
        result = await sip_caller.call(CallerScript(
            "910", audio=caller_audio, dtmf="5", dtmf_delay=0.5, wait_for_bye=30,
            capture_audio=True))
        async with asyncio.timeout(10):
            while app.calls:
                await asyncio.sleep(0.05)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert seen["id"] and seen["caller_id"] == "1000" and seen["called_number"] == "910"
    assert seen["direction"] is Direction.INBOUND and seen["app_name"] == app.app_name
    assert seen["metadata"] == {"team": "support"}
    assert (seen["before"], seen["state"]) == (CallState.RINGING, CallState.IN_PROGRESS)
    assert seen["digit"] == "5"
    assert (seen["heard"], seen["reply"]) == ("What are your hours?", "Nine to five.")
    assert seen["history"][-3:] == ["user", "assistant", "tool"]
    assert seen["chunks"] == (10, 8000)
    assert seen["stopped"] is not None and seen["duration"] > 3
    assert (tmp_path / "recordings" / f"{seen['stopped']}.wav").stat().st_size > 16000
    assert sorted(hangups, key=len) == ["no-arg", seen["id"]]
    heard = result.heard()
    windows = [heard[i:i + 800] for i in range(0, len(heard) - 800, 800)]
    tone_windows = [w for w in windows if np.abs(w).max() > 1000
                    and abs(dominant_frequency(w) - 1000) < 20]
    assert len(tone_windows) >= 4  # send_audio's 0.6 s of 1 kHz reached the caller
