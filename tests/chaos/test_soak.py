"""Three minutes of churn: ten calls at a time, each answered, echoed or prompted and
recorded, hung up by the caller, and the next one placed at once. Every call must
succeed, the app's memory must stay flat, and nothing may be left behind.

Protocol facts relied on: SIPp's exit status says whether its call went as scripted;
``GET /channels``, ``GET /bridges`` and ``GET /recordings/stored`` list what is left in
Asterisk; the app reports its own tasks, calls and resident memory (``/proc/self``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import textwrap
import time
from pathlib import Path

import pytest

from voxtra.ari.client import AriClient
from voxtra.sandbox.audio import tone, write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.apps import AppProcess

SOAK_SECONDS = int(os.environ.get("VOXTRA_SOAK_SECONDS", "180"))
CONCURRENT = 10
#: Memory the app may gain between the end of warm-up and the end of the soak.
MAX_GROWTH_MB = 15.0

APP = textwrap.dedent("""
    import asyncio, re
    from voxtra import CallSession, VoxtraApp

    app = VoxtraApp(shutdown_grace=1.0)
    served = 0

    @app.route(extension="990")
    async def echo(call: CallSession) -> None:
        global served
        await call.answer()
        served += 1
        async for chunk in call.audio_stream():
            await call.send_audio(chunk)

    @app.route(extension="991")
    async def prompt(call: CallSession) -> None:
        global served
        await call.answer()
        served += 1
        await call.record_start()
        await call.play_file("sound:demo-congrats")

    async def report() -> None:
        while True:
            await asyncio.sleep(1.0)
            with open("/proc/self/status") as status:
                rss = int(re.search(r"VmRSS:\\s+(\\d+)", status.read()).group(1))
            print(f"stats served={served} calls={len(app.calls)} "
                  f"tasks={len(asyncio.all_tasks())} rss_kb={rss}", flush=True)

    async def main() -> None:
        async with app:
            await report()

    asyncio.run(main())
""")


def stats(line: bytes) -> dict[str, int]:
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.decode())}


@pytest.mark.slow
async def test_three_minutes_of_churn(voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
                                      tmp_path: Path, figures: dict[str, str]) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    app = await AppProcess.start(script, voxtra_settings,
                                 VOXTRA_RECORDINGS_DIR=str(tmp_path / "recordings"))
    idle = stats(await app.wait_for(b"stats"))
    audio = write_ulaw_wav(tmp_path / "tone.wav", tone(500, 3.0))
    turns = itertools.cycle([CallerScript("990", audio=audio, hangup_after=2.5),
                             CallerScript("991", hangup_after=2.5)])
    outcomes: list[tuple[str, bool]] = []
    failures: list[str] = []
    samples: list[tuple[float, int]] = []
    last = idle
    began = time.monotonic()

    async def churn() -> None:
        while time.monotonic() - began < SOAK_SECONDS:
            caller = next(turns)
            result = await sip_caller.call(caller, timeout=30)
            outcomes.append((caller.number, result.succeeded))
            if not result.succeeded:
                failures.append(result.stderr[-300:])

    async def sample() -> None:
        nonlocal last
        while True:
            last = stats(await app.wait_for(b"stats"))
            samples.append((time.monotonic() - began, last["rss_kb"]))

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.gather(*(churn() for _ in range(CONCURRENT)))
        async with asyncio.timeout(15):  # the app finishes its last calls
            while not (last["calls"] == 0 and last["tasks"] <= idle["tasks"]):
                await asyncio.sleep(0.5)
    finally:
        sampler.cancel()
        await app.stop()
    client = AriClient(voxtra_settings.ari_url, voxtra_settings.ari_user,
                       voxtra_settings.ari_password.get_secret_value())
    try:
        channels, bridges = await client.channels.list(), await client.bridges.list()
        stored = await client.recordings.list_stored()
    finally:
        await client.close()
    delivered = len(list((tmp_path / "recordings").glob("*.wav")))
    warm = [rss for at, rss in samples if at >= 20]
    growth = (warm[-1] - warm[0]) / 1024
    prompted = sum(number == "991" for number, _ in outcomes)
    figures["soak"] = (
        f"{SOAK_SECONDS} s, {CONCURRENT} calls at a time: {len(outcomes)} calls, "
        f"{len(failures)} failed; {last['served']} served, {delivered} of {prompted} recordings "
        f"delivered; app memory {idle['rss_kb'] / 1024:.0f} MB idle, {warm[0] / 1024:.0f} MB "
        f"after 20 s, {warm[-1] / 1024:.0f} MB at the end (peak {max(warm) / 1024:.0f}); "
        f"left: {last['calls']} calls, {last['tasks'] - idle['tasks']} extra tasks, "
        f"{len(channels)} channels, {len(bridges)} bridges, {len(stored)} stored recordings")
    assert failures == [] and len(outcomes) >= SOAK_SECONDS  # ten calls of ~3 s at a time
    assert last["served"] == len(outcomes)
    assert delivered == prompted
    assert growth < MAX_GROWTH_MB, figures["soak"]
    assert channels == [] and bridges == [] and stored == []
