"""Every ARI endpoint family against the sandbox Asterisk, with real SIP calls.

Protocol facts relied on (ARI reference of Asterisk 22): a channel entering
Stasis raises ``StasisStart`` with the dialplan's Stasis() arguments; playbacks
and recordings created with our ids raise ``PlaybackStarted``/``Finished`` and
``RecordingStarted``/``Finished`` carrying those ids; a stopped live recording
becomes a stored recording whose file ``GET /recordings/stored/{name}/file``
returns; an ExternalMedia channel sends the bridged audio as RTP from
``UNICASTRTP_LOCAL_ADDRESS:PORT`` to ``external_host``; RFC 4733 DTMF goes out as
RTP payload type 101 when the SIP peer offered telephone-event.
"""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
import wave
from pathlib import Path

import pytest

from voxtra.ari.client import AriClient
from voxtra.ari.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
)
from voxtra.ari.models import Channel
from voxtra.media.rtp import RtpPacket
from voxtra.sandbox.audio import tone, tone_packets, write_ulaw_wav
from voxtra.sandbox.scenarios import CalleeScript, CallerScript
from voxtra.sandbox.sipp import SipCallee, SipCaller
from voxtra.testing.events import EventLog


def new_id(kind: str) -> str:
    return f"test-{kind}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def caller_wav(tmp_path: Path) -> Path:
    return write_ulaw_wav(tmp_path / "caller.wav", tone(440, 3.0))


async def incoming(events: EventLog, number: str) -> Channel:
    start = await events.wait_for("StasisStart", lambda e: e.args[:1] == [number])
    return start.channel  # type: ignore[no-any-return]


async def test_asterisk_resources(ari: AriClient) -> None:
    info = await ari.asterisk.info()
    assert info.system is not None and info.system.version.startswith("22")  # type: ignore[union-attr]
    assert "ping" in (await ari.asterisk.ping())
    await ari.asterisk.set_global_variable("VOXTRA_TEST", "yes")
    assert await ari.asterisk.get_global_variable("VOXTRA_TEST") == "yes"
    modules = {m.name for m in await ari.asterisk.list_modules()}
    assert {"res_ari.so", "chan_pjsip.so", "chan_rtp.so"} <= modules
    assert (await ari.asterisk.get_module("res_musiconhold.so")).status == "Running"
    await ari.asterisk.reload_module("res_musiconhold.so")
    with pytest.raises(NotFoundError):
        await ari.asterisk.get_module("no_such_module.so")


async def test_endpoints_sounds_device_states_applications(ari: AriClient,
                                                          events: EventLog) -> None:
    app = events.stream.app_name
    assert any(e.resource == "loopback" for e in await ari.endpoints.list())
    assert all(e.technology == "PJSIP" for e in await ari.endpoints.list_by_tech("PJSIP"))
    assert (await ari.endpoints.get("PJSIP", "loopback")).resource == "loopback"
    sounds = await ari.sounds.list(lang="en")
    assert any(s.id == "hello-world" for s in sounds)
    assert (await ari.sounds.get("hello-world")).id == "hello-world"
    await ari.device_states.update("Stasis:voxtra-test", "BUSY")
    assert (await ari.device_states.get("Stasis:voxtra-test")).state == "BUSY"
    assert any(d.name == "Stasis:voxtra-test" for d in await ari.device_states.list())
    assert await ari.device_states.delete("Stasis:voxtra-test")
    assert app in {a.name for a in await ari.applications.list()}
    subscribed = await ari.applications.subscribe(app, "endpoint:PJSIP/loopback")
    assert "PJSIP/loopback" in subscribed.endpoint_ids
    await ari.applications.unsubscribe(app, "endpoint:PJSIP/loopback")
    filtered = await ari.applications.filter(app, disallowed=["ChannelVarset"])
    assert filtered.events_disallowed == [{"type": "ChannelVarset"}]
    await ari.applications.filter(app)
    with pytest.raises(NotFoundError):
        await ari.applications.get("no-such-app")


async def test_channel_control_playback_and_dtmf_out(ari: AriClient, events: EventLog,
                                                    sip_caller: SipCaller) -> None:
    script = CallerScript("501", headers={"X-Room-ID": "room-42"}, hangup_after=6,
                          capture_audio=True)
    caller = asyncio.create_task(sip_caller.call(script))
    channel = await incoming(events, "501")
    cid = channel.id
    assert channel.state == "Ring"
    assert await ari.channels.get_variable(cid, "PJSIP_HEADER(read,X-Room-ID)") == "room-42"
    assert await ari.channels.get_variable(cid, "NO_SUCH_VARIABLE") in ("", None)
    await ari.channels.set_variable(cid, "GREETING", "hi")
    await ari.channels.set_variables(cid, {"A": "1", "B": "2"})
    assert await ari.channels.get_variables(cid, ["GREETING", "A", "B"]) == {
        "GREETING": "hi", "A": "1", "B": "2"}
    await ari.channels.ring(cid)
    await ari.channels.ring_stop(cid)
    await ari.channels.answer(cid)
    await events.wait_for("ChannelStateChange",
                          lambda e: e.channel.id == cid and e.channel.state == "Up")
    assert any(c.id == cid for c in await ari.channels.list())
    for start, stop in ((ari.channels.hold, ari.channels.unhold),
                        (ari.channels.start_moh, ari.channels.stop_moh),
                        (ari.channels.start_silence, ari.channels.stop_silence),
                        (ari.channels.mute, ari.channels.unmute)):
        await start(cid)
        await stop(cid)

    playback_id = new_id("pb")
    playback = await ari.channels.play(cid, "sound:tt-monkeys", playback_id=playback_id)
    assert playback.id == playback_id
    await events.wait_for("PlaybackStarted", lambda e: e.playback.id == playback_id)
    # Asterisk announces the playback before its file stream is open: a pause that comes
    # at once is now and then refused (500 "Could not pause playback").
    await asyncio.sleep(0.3)
    await ari.playbacks.control(playback_id, "pause")
    assert (await ari.playbacks.get(playback_id)).state == "paused"
    await ari.playbacks.control(playback_id, "unpause")
    assert await ari.playbacks.stop(playback_id)
    await events.wait_for("PlaybackFinished", lambda e: e.playback.id == playback_id)

    await ari.channels.send_dtmf(cid, "1234", between=100, duration=120)
    stats = await ari.channels.rtp_statistics(cid)
    assert (stats.txcount or 0) > 0
    await asyncio.sleep(1.0)
    # Stasis drops its subscription at StasisEnd; an explicit one keeps ChannelDestroyed.
    await ari.applications.subscribe(events.stream.app_name, f"channel:{cid}")
    assert await ari.channels.hangup(cid, reason="normal")
    await events.wait_for("StasisEnd", lambda e: e.channel.id == cid)
    destroyed = await events.wait_for("ChannelDestroyed", lambda e: e.channel.id == cid)
    assert destroyed.cause == 16
    assert not await ari.channels.hangup(cid)  # already gone: success, not an error
    result = await caller
    assert result.succeeded or result.hung_up_by_remote
    dtmf_packets = [p for p in result.rtp if p.payload_type == 101]
    assert {p.payload[0] for p in dtmf_packets} == {1, 2, 3, 4}  # RFC 4733 event codes
    with pytest.raises(NotFoundError):
        await ari.channels.get(cid)


async def test_recording_snoop_move_and_errors(ari: AriClient, events: EventLog,
                                               sip_caller: SipCaller, caller_wav: Path,
                                               voxtra_settings: object) -> None:
    caller = asyncio.create_task(sip_caller.call(
        CallerScript("502", audio=caller_wav, hangup_after=8)))
    cid = (await incoming(events, "502")).id
    await ari.channels.answer(cid)

    name = new_id("rec")
    loop = asyncio.get_running_loop()
    asked = loop.time()
    live = await ari.channels.record(cid, name, "wav", if_exists="overwrite")
    assert live.name == name
    await events.wait_for("RecordingStarted", lambda e: e.recording.name == name)
    started = loop.time()
    await ari.recordings.pause(name)
    await ari.recordings.unpause(name)
    await ari.recordings.mute(name)
    await ari.recordings.unmute(name)
    assert (await ari.recordings.get_live(name)).state == "recording"
    await asyncio.sleep(1.5)
    stopping = loop.time()
    assert await ari.recordings.stop(name)
    finished = await events.wait_for("RecordingFinished", lambda e: e.recording.name == name)
    finished_at = loop.time()
    assert finished.recording.duration is not None and finished.recording.duration >= 1
    assert name in {r.name for r in await ari.recordings.list_stored()}
    assert (await ari.recordings.get_stored(name)).format == "wav"
    data = await ari.recordings.download(name)
    with wave.open(io.BytesIO(data)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    # Asterisk records in real time: no longer than from asking for the recording to
    # hearing it finished (give or take the 20 ms frame it writes whole), more than half
    # of the time it ran before it was stopped.
    assert (stopping - started) / 2 <= seconds <= finished_at - asked + 0.02, \
        (seconds, stopping - started, finished_at - asked)
    copy = await ari.recordings.copy_stored(name, name + "-copy")
    assert copy.name == name + "-copy"
    assert await ari.recordings.delete_stored(copy.name)
    assert await ari.recordings.delete_stored(name)
    assert not await ari.recordings.delete_stored(name)
    cancelled = new_id("rec")
    await ari.channels.record(cid, cancelled, "wav")
    await events.wait_for("RecordingStarted", lambda e: e.recording.name == cancelled)
    assert await ari.recordings.cancel(cancelled)
    with pytest.raises(NotFoundError):
        await ari.recordings.get_stored(cancelled)

    snoop_id = new_id("snoop")
    snoop = await ari.channels.snoop(cid, events.stream.app_name, spy="in",
                                     snoop_id=snoop_id, app_args="snoop")
    assert snoop.id == snoop_id
    await events.wait_for("StasisStart", lambda e: e.channel.id == snoop_id)
    assert await ari.channels.hangup(snoop_id)

    other = EventLog(ari, "voxtra-other")
    await other.start()
    try:
        await ari.channels.move(cid, "voxtra-other", app_args="moved")
        moved = await other.wait_for("StasisStart", lambda e: e.channel.id == cid)
        assert moved.args == ["moved"]
        with pytest.raises(NotFoundError):
            await ari.bridges.add_channel("no-such-bridge", cid)
    finally:
        await other.stop()
    with pytest.raises((NotFoundError, ConflictError)):
        await ari.channels.answer("no-such-channel")
    await ari.channels.hangup(cid)
    await caller


async def test_bridges_and_external_media(ari: AriClient, events: EventLog,
                                          sip_caller: SipCaller, caller_wav: Path) -> None:
    caller = asyncio.create_task(sip_caller.call(
        CallerScript("503", audio=caller_wav, hangup_after=5)))
    cid = (await incoming(events, "503")).id
    await ari.channels.answer(cid)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media:
        media.bind(("127.0.0.1", 0))
        media.setblocking(False)
        em_id = new_id("em")
        em = await ari.channels.external_media(
            events.stream.app_name, f"127.0.0.1:{media.getsockname()[1]}", "ulaw",
            channel_id=em_id)
        assert em.id == em_id and em.channelvars
        source = (em.channelvars["UNICASTRTP_LOCAL_ADDRESS"],
                  int(em.channelvars["UNICASTRTP_LOCAL_PORT"]))
        await events.wait_for("StasisStart", lambda e: e.channel.id == em_id)
        bridge_id = new_id("br")
        bridge = await ari.bridges.create("mixing,dtmf_events", bridge_id=bridge_id,
                                          name="test")
        assert bridge.id == bridge_id
        await ari.bridges.add_channel(bridge_id, [cid, em_id])
        await events.wait_for("ChannelEnteredBridge", lambda e: e.channel.id == em_id)
        assert set((await ari.bridges.get(bridge_id)).channels) == {cid, em_id}
        await ari.bridges.set_variable(bridge_id, "ROOM", "42")
        assert await ari.bridges.get_variable(bridge_id, "ROOM") == "42"
        loop = asyncio.get_running_loop()
        packets = []
        async with asyncio.timeout(5):
            while len(packets) < 25:
                data, sender = await loop.sock_recvfrom(media, 2048)
                assert sender == source
                packets.append(RtpPacket.parse(data))
        assert all(p.payload_type == 0 and len(p.payload) == 160 for p in packets)
        playback_id = new_id("pb")
        await ari.bridges.play(bridge_id, "tone:440", playback_id=playback_id)
        await events.wait_for("PlaybackStarted", lambda e: e.playback.id == playback_id)
        await ari.playbacks.stop(playback_id)
        rec = new_id("rec")
        await ari.bridges.record(bridge_id, rec, "wav")
        await events.wait_for("RecordingStarted", lambda e: e.recording.name == rec)
        await ari.recordings.stop(rec)
        assert await ari.recordings.delete_stored(rec)
        await ari.bridges.start_moh(bridge_id)
        await ari.bridges.stop_moh(bridge_id)
        await ari.bridges.remove_channel(bridge_id, em_id)
        await events.wait_for("ChannelLeftBridge", lambda e: e.channel.id == em_id)
        assert await ari.channels.hangup(em_id)
        assert bridge_id in {b.id for b in await ari.bridges.list()}
        with pytest.raises(BadRequestError):
            await ari.bridges.add_channel(bridge_id, "no-such-channel")
        assert await ari.bridges.destroy(bridge_id)
        async with asyncio.timeout(5):  # a destroyed bridge lingers briefly (409 meanwhile)
            while bridge_id in {b.id for b in await ari.bridges.list()}:
                await asyncio.sleep(0.05)
        assert not await ari.bridges.destroy(bridge_id)  # already gone: success
    await ari.channels.hangup(cid)
    await caller


async def test_create_dial_originate_and_user_events(ari: AriClient, events: EventLog) -> None:
    app = events.stream.app_name
    answering = SipCallee(CalleeScript("answer", wait_for_bye=10))
    busy = SipCallee(CalleeScript("busy"))
    await answering.start()
    await busy.start()

    created_id = new_id("out")
    created = await ari.channels.create(f"PJSIP/loopback/{answering.uri}", app,
                                        channel_id=created_id, app_args="created",
                                        variables={"CALLERID(num)": "5550100"})
    assert created.id == created_id
    await events.wait_for("StasisStart", lambda e: e.channel.id == created_id)
    await ari.channels.dial(created_id, timeout=5)
    dial = await events.wait_for("Dial", lambda e: e.peer.id == created_id
                                 and e.dialstatus == "ANSWER")
    assert dial.dialstatus == "ANSWER"
    await ari.events.user_event("checkpoint", app, source=f"channel:{created_id}",
                                variables={"step": "1"})
    user = await events.wait_for("ChannelUserevent", lambda e: e.eventname == "checkpoint")
    assert user.userevent["step"] == "1"
    await ari.channels.hangup(created_id)

    busy_id = new_id("out")
    await ari.channels.originate(f"PJSIP/loopback/{busy.uri}", app=app, channel_id=busy_id,
                                 caller_id="Voxtra <5550100>", timeout=5)
    gone = await events.wait_for("ChannelDestroyed", lambda e: e.channel.id == busy_id)
    assert gone.cause == 17  # user busy
    with pytest.raises(BadRequestError):  # neither app nor extension
        await ari.channels.originate("PJSIP/loopback/sip:x@127.0.0.1:1")
    assert (await answering.result()).succeeded
    assert (await busy.result()).succeeded


async def test_server_named_resources_progress_and_redirect_reach_the_caller(
        ari: AriClient, events: EventLog, sip_caller: SipCaller) -> None:
    """The operations that let Asterisk name what they make (play, snoop, bridges
    without ids), early media (183) and redirect (302), each seen where it lands: SIP
    responses in SIPp's trace, tones in the caller's RTP, resources in ``GET`` lists."""
    caller = asyncio.create_task(sip_caller.call(CallerScript("502", capture_audio=True,
                                                              wait_for_bye=20)))
    cid = (await incoming(events, "502")).id
    await ari.channels.progress(cid)
    await ari.channels.answer(cid)
    playback = await ari.channels.play(cid, "tone:440")  # Asterisk names the playback
    await events.wait_for("PlaybackStarted", lambda e: e.playback.id == playback.id)
    await asyncio.sleep(1.0)
    assert await ari.playbacks.stop(playback.id)
    snoop = await ari.channels.snoop(cid, events.stream.app_name, spy="in")
    assert snoop.id in {c.id for c in await ari.channels.list()}
    await ari.channels.hangup(snoop.id)
    bridge = await ari.bridges.create("mixing")  # and names the bridge
    assert (await ari.bridges.get(bridge.id)).id == bridge.id
    await ari.bridges.set_variables(bridge.id, {"ROOM": "7", "FLOOR": "2"})
    assert await ari.bridges.get_variables(bridge.id, ["ROOM", "FLOOR"]) == {
        "ROOM": "7", "FLOOR": "2"}
    await ari.bridges.add_channel(bridge.id, [cid])
    bridged = await ari.bridges.play(bridge.id, "tone:1000")
    await events.wait_for("PlaybackStarted", lambda e: e.playback.id == bridged.id)
    await asyncio.sleep(1.0)
    await ari.bridges.destroy(bridge.id)
    await ari.channels.hangup(cid)
    result = await caller
    assert result.received("SIP/2.0 183"), [m.start_line for m in result.messages]
    assert len(tone_packets(result.captured, 440)) > 25  # the channel's playback
    assert len(tone_packets(result.captured, 1000)) > 25  # the bridge's

    redirected = asyncio.create_task(sip_caller.call(CallerScript("503"), timeout=10))
    rid = (await incoming(events, "503")).id
    await ari.channels.redirect(rid, "PJSIP/sip:elsewhere@127.0.0.1:5999")
    moved = await redirected
    assert moved.received("SIP/2.0 302"), [m.start_line for m in moved.messages]
    contact = moved.received("SIP/2.0 302")[0].headers.get("contact", "")
    assert "elsewhere@127.0.0.1:5999" in contact, contact
