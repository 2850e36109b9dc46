"""The app process SIGKILLed again and again under live calls: each new process adopts
the calls, which keep working (echo, prompt, recording), and nothing leaks.

Protocol facts relied on: channels, bridges, snoop channels and their recordings outlive
the ARI application that made them; a new process on the same application name finds
the calls (``GET /channels``) and adopts them; the caller's RTP capture shows what it
heard last; ``GET /channels`` and ``GET /bridges`` list what is left in Asterisk.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from voxtra.ari.client import AriClient
from voxtra.sandbox.audio import dominant_frequency, rms, tone, write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.apps import AppProcess

ROUNDS = 5
#: Seconds each call lasts: long enough for every round's kill and adoption.
CALL_SECONDS = 20

APP = textwrap.dedent("""
    import asyncio, logging, os
    from voxtra import CallSession, VoxtraApp

    logging.basicConfig(level=logging.INFO)
    app = VoxtraApp(shutdown_grace=1.0)
    first = os.environ["GENERATION"] == "0"

    @app.route(extension="971")
    async def echo(call: CallSession) -> None:
        await call.answer()
        print("serving echo", flush=True)
        async for chunk in call.audio_stream():
            await call.send_audio(chunk)

    @app.route(extension="972")
    async def prompt(call: CallSession) -> None:
        await call.answer()
        print("serving prompt", flush=True)
        await call.play_file("tone:440")  # until the call ends

    @app.route(extension="973")
    async def recorded(call: CallSession) -> None:
        await call.answer()
        if first:
            await call.record_start("chaos-recording")
        print("serving recording", flush=True)
        await call.wait_ended()

    app.run()
""")


async def serving_all(app: AppProcess) -> None:
    for kind in (b"echo", b"prompt", b"recording"):
        while kind not in b"".join(app.lines):
            await app.wait_for(b"serving")


async def test_the_app_killed_under_live_calls_again_and_again(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path,
        figures: dict[str, str]) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    recordings = tmp_path / "recordings"
    env = {"VOXTRA_RECORDINGS_DIR": str(recordings)}
    app = await AppProcess.start(script, voxtra_settings, GENERATION="0", **env)
    await app.wait_for(b"connected")
    echo_wav = write_ulaw_wav(tmp_path / "600.wav", tone(600, CALL_SECONDS))
    recorded_wav = write_ulaw_wav(tmp_path / "500.wav", tone(500, CALL_SECONDS))
    callers = [asyncio.create_task(sip_caller.call(script_, timeout=CALL_SECONDS + 20))
               for script_ in (
                   CallerScript("971", audio=echo_wav, capture_audio=True,
                                hangup_after=CALL_SECONDS),
                   CallerScript("972", capture_audio=True, hangup_after=CALL_SECONDS),
                   CallerScript("973", audio=recorded_wav, hangup_after=CALL_SECONDS))]
    adoptions: list[float] = []
    errors: list[bytes] = []
    try:
        await serving_all(app)
        for generation in range(1, ROUNDS + 1):
            await asyncio.sleep(1.0)
            await app.kill()
            errors += [line for line in app.lines if b"ERROR" in line or b"Traceback" in line]
            began = time.monotonic()
            app = await AppProcess.start(script, voxtra_settings,
                                         GENERATION=str(generation), **env)
            await serving_all(app)
            adoptions.append(time.monotonic() - began)
        echo, prompt, recorded = await asyncio.gather(*callers)
        stored = recordings / "chaos-recording.wav"
        async with asyncio.timeout(15):
            while not stored.exists():
                await asyncio.sleep(0.1)
    finally:
        await app.stop()
    errors += [line for line in app.lines if b"ERROR" in line or b"Traceback" in line]
    client = AriClient(voxtra_settings.ari_url, voxtra_settings.ari_user,
                       voxtra_settings.ari_password.get_secret_value())
    try:
        async with asyncio.timeout(5):
            while await client.channels.list() or await client.bridges.list():
                await asyncio.sleep(0.1)
        channels, bridges = await client.channels.list(), await client.bridges.list()
    finally:
        await client.close()
    with wave.open(str(stored)) as wav:
        recorded_seconds = wav.getnframes() / wav.getframerate()
        recorded_pcm = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    figures["app killed"] = (
        f"{ROUNDS} SIGKILLs under an echo, a prompt and a recording call: all three adopted "
        f"{min(adoptions):.1f}-{max(adoptions):.1f} s after the kill (process start "
        f"included); recording delivered once, {recorded_seconds:.1f} s of a "
        f"{CALL_SECONDS} s call; {len(channels)} channels, {len(bridges)} bridges left")
    assert all(r.succeeded for r in (echo, prompt, recorded)), [
        r.stderr for r in (echo, prompt, recorded)]
    assert errors == []
    # What the callers heard last, after the fifth adoption: their echo, the prompt.
    assert dominant_frequency(echo.heard()[-12000:-2000]) == pytest.approx(600, abs=20)
    assert dominant_frequency(prompt.heard()[-12000:-2000]) == pytest.approx(440, abs=20)
    assert rms(prompt.heard()[-12000:-2000]) > 300
    # The recording ran from the first process to the hangup, through every crash.
    assert recorded_seconds > CALL_SECONDS - 6, recorded_seconds
    assert dominant_frequency(recorded_pcm[-8000:]) == pytest.approx(500, abs=20)
    assert list(recordings.glob("*.wav")) == [stored]
    assert channels == [] and bridges == []
