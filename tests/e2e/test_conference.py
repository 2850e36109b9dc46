"""Conferences through the sandbox Asterisk: three SIP callers, each sending its own
tone, in one named conference.

Protocol facts relied on: ``POST /channels/{id}/mute?direction=in`` stops a channel's
audio reaching the bridge while it still hears the bridge; bridge playbacks and
recordings report ``PlaybackFinished``/``RecordingFinished`` with ``target_uri``
``bridge:ID``; removing a channel from a bridge and hanging it up sends the caller a BYE.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from voxtra import CallSession, VoxtraApp, VoxtraSettings
from voxtra.sandbox.audio import tone, tones, write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller


async def test_a_three_party_conference_with_mute_kick_announcement_and_recording(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    app = VoxtraApp(voxtra_settings.model_copy(
        update={"recordings_dir": tmp_path / "recordings"}))
    room = app.conference("room")
    joined = asyncio.Event()

    @app.route()
    async def conference(call: CallSession) -> None:
        await call.answer()
        await room.join(call, muted=call.called_number == "302")
        if len(room.participants) == 3:
            joined.set()
        await call.wait_ended()

    def party(number: str, frequency: int, **script: Any) -> CallerScript:
        audio = write_ulaw_wav(tmp_path / f"{number}.wav", tone(frequency, 10.0))
        return CallerScript(number, audio=audio, capture_audio=True, **script)

    async with app:
        sip = sip_caller
        calls = [asyncio.create_task(sip.call(party("301", 440, hangup_after=7))),
                 asyncio.create_task(sip.call(party("302", 300, hangup_after=7))),
                 asyncio.create_task(sip.call(party("303", 800, wait_for_bye=20)))]
        await asyncio.wait_for(joined.wait(), 10)
        announced = await room.announce("sound:beep")
        await room.record_start("room-recording")
        await asyncio.sleep(2)
        kicked = next(c for c in room.participants.values() if c.called_number == "303")
        await room.kick(kicked)
        recorded = await room.record_stop()
        a, b, c = await asyncio.gather(*calls)
        await asyncio.wait_for(asyncio.shield(room.emptied), 10)
        async with asyncio.timeout(10):
            while app.calls:
                await asyncio.sleep(0.05)
        left = await app.client.bridges.list()
    assert all(r.succeeded for r in (a, b, c)), [r.stderr for r in (a, b, c)]
    heard = {name: tones(r.heard()) for name, r in (("a", a), ("b", b), ("c", c))}
    assert heard["a"].get(800, 0) >= 10 and 300 not in heard["a"]  # B is muted
    assert heard["b"].get(440, 0) >= 10 and heard["b"].get(800, 0) >= 10  # muted still hears
    assert heard["c"].get(440, 0) >= 10
    assert c.hung_up_by_remote  # kicked
    assert announced is True
    assert recorded == "room-recording" and "room-recording" in room.recordings
    assert room.recordings["room-recording"].size_bytes > 16000
    assert left == [] and app.conferences == {}
