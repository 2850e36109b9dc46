"""An app process killed mid-call, and the next one: nothing of the first is left.

Protocol facts relied on: channels and bridges outlive the ARI application that made
them; a new process on the same application name finds the call (``GET /channels``)
and adopts it; ``GET /bridges`` lists each bridge with its channels.
"""

from __future__ import annotations

import asyncio
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from voxtra.ari.client import AriClient
from voxtra.sandbox.audio import dominant_frequency, tone, write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.apps import AppProcess

APP = textwrap.dedent("""
    import logging
    from voxtra import CallSession, VoxtraApp

    logging.basicConfig(level=logging.INFO)
    app = VoxtraApp(shutdown_grace=1.0)

    @app.route()
    async def echo(call: CallSession) -> None:
        await call.answer()
        print("echoing", call.id, flush=True)
        async for chunk in call.audio_stream():
            await call.send_audio(chunk)

    app.run()
""")


async def test_after_a_crash_the_next_process_leaves_no_bridge_behind(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    first = await AppProcess.start(script, voxtra_settings)
    await first.wait_for(b"connected")
    caller = asyncio.create_task(sip_caller.call(CallerScript(
        "960", audio=write_ulaw_wav(tmp_path / "tone.wav", tone(440, 9.0)), hangup_after=8)))
    await first.wait_for(b"echoing")
    await asyncio.sleep(1.0)
    await first.kill()
    second = await AppProcess.start(script, voxtra_settings)
    await second.wait_for(b"echoing")  # the call, adopted
    result = await caller
    client = AriClient(voxtra_settings.ari_url, voxtra_settings.ari_user,
                       voxtra_settings.ari_password.get_secret_value())
    try:
        async with asyncio.timeout(5):
            while await client.bridges.list() or await client.channels.list():
                await asyncio.sleep(0.1)
        left = [b.id for b in await client.bridges.list()]
    finally:
        await client.close()
        await second.stop()
    assert result.succeeded, result.stderr
    assert left == []


PROMPT_APP = textwrap.dedent("""
    import asyncio, logging, os
    from voxtra import CallSession, VoxtraApp

    logging.basicConfig(level=logging.INFO)
    app = VoxtraApp(shutdown_grace=1.0)

    @app.route()
    async def prompt(call: CallSession) -> None:
        if os.environ["ROLE"] == "first":
            await call.answer()
            playing = asyncio.ensure_future(call.play_file("tone:ring"))  # until stopped
            await asyncio.sleep(1.0)
            print("playing", flush=True)
            await playing
        else:
            await call.answer()  # blocked behind the dead process's playback, unless stopped
            print("answered-again", flush=True)
            await call.play_file("sound:beep")

    app.run()
""")


async def test_a_call_adopted_while_a_prompt_plays_keeps_working(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "prompt.py"
    script.write_text(PROMPT_APP)
    monkeypatch.setenv("ROLE", "first")
    first = await AppProcess.start(script, voxtra_settings)
    await first.wait_for(b"connected")
    caller = asyncio.create_task(sip_caller.call(CallerScript("961", wait_for_bye=20)))
    await first.wait_for(b"playing")
    await first.kill()
    monkeypatch.setenv("ROLE", "second")
    second = await AppProcess.start(script, voxtra_settings)
    try:
        await second.wait_for(b"answered-again")
        result = await caller
    finally:
        await second.stop()
    assert result.succeeded and result.hung_up_by_remote, result.stderr


RECORDING_APP = textwrap.dedent("""
    import asyncio, logging, os
    from voxtra import CallSession, VoxtraApp

    logging.basicConfig(level=logging.INFO)
    app = VoxtraApp(shutdown_grace=1.0)

    @app.route()
    async def recorded(call: CallSession) -> None:
        if os.environ["ROLE"] == "first":
            await call.answer()
            await call.record_start("crash-survivor")
            print("recording", flush=True)
        else:
            print("adopted", call.id, flush=True)
        await asyncio.Event().wait()  # until the caller hangs up

    app.run()
""")


async def test_a_recording_survives_the_crash_of_the_process_that_started_it(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The snoop channel keeps recording while no process serves the app; the process
    that adopts the call finds the recording named on the channel and delivers it."""
    script = tmp_path / "recorded.py"
    script.write_text(RECORDING_APP)
    monkeypatch.setenv("VOXTRA_RECORDINGS_DIR", str(tmp_path / "recordings"))
    monkeypatch.setenv("ROLE", "first")
    first = await AppProcess.start(script, voxtra_settings)
    await first.wait_for(b"connected")
    audio = write_ulaw_wav(tmp_path / "tone.wav", tone(500, 8.0))
    caller = asyncio.create_task(sip_caller.call(CallerScript("962", audio=audio,
                                                              hangup_after=7)))
    await first.wait_for(b"recording")
    await asyncio.sleep(1.0)
    await first.kill()
    monkeypatch.setenv("ROLE", "second")
    second = await AppProcess.start(script, voxtra_settings)
    try:
        await second.wait_for(b"adopted")
        result = await caller
        stored = tmp_path / "recordings" / "crash-survivor.wav"
        async with asyncio.timeout(10):
            while not stored.exists():
                await asyncio.sleep(0.1)
    finally:
        await second.stop()
    assert result.succeeded, result.stderr
    with wave.open(str(stored)) as recording:
        seconds = recording.getnframes() / recording.getframerate()
        pcm = np.frombuffer(recording.readframes(recording.getnframes()), np.int16)
    # From record_start to the hangup: before the crash, while no process ran, and after.
    assert seconds > 5.0, seconds
    assert dominant_frequency(pcm[-8000:]) == pytest.approx(500, abs=20)
