"""Garbage in, from both sides: RTP at a live call's media port, and malformed or unknown
ARI events into a running app's event stream. Nothing crashes; everything dropped is
counted; the call in progress stays clear and the app takes the next call.

Protocol facts relied on: RTP version 2 and the header layout of RFC 3550 section 5.1;
ARI events are JSON objects with a ``type`` (ARI's events.json).
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import time

import numpy as np

from voxtra import CallSession, VoxtraApp, VoxtraSettings
from voxtra.media.audio import AudioFormat
from voxtra.media.endpoint import RtpEndpoint
from voxtra.media.g711 import ulaw_encode
from voxtra.media.rtp import RtpPacket
from voxtra.sandbox.ari_proxy import AriProxy
from voxtra.sandbox.audio import dominant_frequency, tone
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller

FUZZ_PACKETS = 100_000
FUZZ_EVENTS = 10_000


def garbage(rng: random.Random, sequence: int, timestamp: int) -> bytes:
    """One bad packet: random bytes, truncated, wrong version, a far sequence or
    timestamp jump, another SSRC, another payload type, or padding that lies."""
    kind = rng.randrange(8)
    payload = bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 160, 400))))
    if kind == 0:
        return payload
    if kind == 1:
        return RtpPacket(0, sequence, timestamp, 1, payload).build()[:rng.randrange(12)]
    if kind == 2:
        return bytes([rng.choice((0x00, 0x40, 0xC0))]) + payload[:171]
    if kind == 3:
        return RtpPacket(0, (sequence + rng.randrange(3000, 60000)) & 0xFFFF, timestamp,
                         1, payload).build()
    if kind == 4:
        return RtpPacket(0, sequence, (timestamp + rng.randrange(1 << 31)) & 0xFFFFFFFF, 1,
                         payload).build()
    if kind == 5:
        return RtpPacket(0, sequence, timestamp, rng.randrange(1 << 32), payload).build()
    if kind == 6:
        return RtpPacket(rng.choice((8, 9, 18, 101, 127)), sequence, timestamp, 1,
                         payload).build()
    header = struct.pack("!BBHII", 0xA0, 0, sequence, timestamp, 1)  # padding bit set
    return header + payload[:160] + bytes([rng.randrange(1, 255)])


async def test_rtp_fuzz_leaves_the_call_clear(figures: dict[str, str]) -> None:
    rng = random.Random(4733)
    endpoint = RtpEndpoint(AudioFormat.ULAW, jitter_depth=3)
    local = await endpoint.open()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    endpoint.connect(peer.getsockname())
    received: list[np.ndarray] = []

    async def listen() -> None:
        async for chunk in endpoint.subscribe():
            received.append(chunk.pcm)

    listener = asyncio.create_task(listen())
    voice = ulaw_encode(tone(440, 10.0))
    per_frame = FUZZ_PACKETS // 500
    # Made beforehand: the loop that sends them is the one the endpoint runs on.
    bad = [[garbage(rng, (1000 + frame) & 0xFFFF, frame * 160) for _ in range(per_frame)]
           for frame in range(500)]
    began = time.monotonic()
    sent_garbage = 0
    for frame in range(500):  # 10 s of a 440 Hz call, 200 bad packets between frames
        sequence, timestamp = (1000 + frame) & 0xFFFF, frame * 160
        peer.sendto(RtpPacket(0, sequence, timestamp, 1,
                              voice[frame * 160:(frame + 1) * 160]).build(), local)
        for packet in bad[frame]:
            try:
                peer.sendto(packet, local)
                sent_garbage += 1
            except BlockingIOError:
                await asyncio.sleep(0)
        await asyncio.sleep(max(0.0, began + (frame + 1) * 0.02 - time.monotonic()))
    await asyncio.sleep(0.3)
    stats, jitter = endpoint.stats, endpoint.jitter_stats
    await endpoint.close()
    await listener
    peer.close()
    heard = np.concatenate(received)
    windows = [heard[i:i + 800] for i in range(0, len(heard) - 800, 800)]
    clear = sum(abs(dominant_frequency(w) - 440) < 10 for w in windows) / len(windows)
    dropped = (stats.dropped_malformed + stats.dropped_payload_type + jitter.late
               + jitter.duplicates + jitter.delayed)
    figures["rtp fuzz"] = (f"{sent_garbage} bad packets among 500 good ones: "
                           f"{stats.dropped_malformed} malformed, "
                           f"{stats.dropped_payload_type} other payload type, "
                           f"{jitter.late + jitter.duplicates + jitter.delayed} out of "
                           f"sequence; {clear:.0%} of the call's 0.1 s windows clear")
    assert sent_garbage >= FUZZ_PACKETS * 0.95
    assert dropped > 0.5 * sent_garbage  # counted, not delivered
    assert clear > 0.9  # the call's own audio is still what comes out


def bad_event(rng: random.Random) -> str:
    """A malformed, unknown or half-valid ARI event."""
    kind = rng.randrange(7)
    if kind == 0:
        return "".join(rng.choice("{}[]\":,abc123 ") for _ in range(rng.randrange(60)))
    if kind == 1:
        return json.dumps(rng.choice([[], 7, "text", None, [{"type": "StasisStart"}]]))
    if kind == 2:
        return json.dumps({"type": f"NoSuchEvent{rng.randrange(1000)}", "x": rng.random()})
    event_type = rng.choice(["StasisStart", "StasisEnd", "ChannelDestroyed",
                             "ChannelDtmfReceived", "PlaybackFinished", "RecordingFinished",
                             "ChannelStateChange", "ChannelHangupRequest"])
    if kind == 3:
        return json.dumps({"type": event_type})  # required fields missing
    if kind == 4:
        return json.dumps({"type": event_type, "channel": rng.choice([1, "x", [], None])})
    channel = {"id": f"fuzz-{rng.randrange(10**6)}", "name": "PJSIP/fuzz", "state": "Up",
               "caller": {"name": "", "number": "1"}, "connected": {"name": "", "number": ""},
               "accountcode": "", "dialplan": {"context": "c", "exten": "1", "priority": 1},
               "creationtime": "2026-12-02T00:00:00.000+0000", "language": "en"}
    if kind == 5:  # a well-formed event about a channel nobody knows
        return json.dumps({"type": rng.choice(["StasisEnd", "ChannelDestroyed",
                                               "ChannelDtmfReceived"]),
                           "application": "voxtra", "channel": channel, "digit": "5",
                           "cause": 16})
    return json.dumps({"type": event_type, "channel": channel, "digit": 5,
                       "playback": {"id": 3}, "recording": "x", "cause": "many"})


async def test_ari_event_fuzz_is_dropped_and_counted_and_the_next_call_is_served(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
        figures: dict[str, str]) -> None:
    rng = random.Random(3550)
    app = VoxtraApp(voxtra_settings)
    answered: list[str] = []

    @app.route()
    async def hello(call: CallSession) -> None:
        await call.answer()
        answered.append(call.id)
        await call.play_file("sound:beep")

    async with app:
        stream = app.stream
        assert stream is not None
        before = (stream.stats.events, stream.stats.malformed)
        for _ in range(FUZZ_EVENTS):
            stream._receive(bad_event(rng))
        events = stream.stats.events - before[0]
        malformed = stream.stats.malformed - before[1]
        await asyncio.sleep(0.5)
        result = await sip_caller.call(CallerScript("100"))
    figures["ari event fuzz"] = (f"{FUZZ_EVENTS} bad events: {malformed} malformed "
                                 f"(dropped), {events} parsed and ignored; next call "
                                 f"{'answered' if answered else 'NOT answered'}")
    assert events + malformed == FUZZ_EVENTS
    assert malformed > FUZZ_EVENTS / 3
    assert result.succeeded and len(answered) == 1


def bad_frame(rng: random.Random) -> str | bytes:
    """A websocket frame an ARI client must survive: binary noise, or a bad event."""
    if rng.randrange(4) == 0:
        return rng.randbytes(rng.randrange(1, 300))
    return bad_event(rng)


async def test_ari_websocket_fuzz_on_a_live_connection(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
        figures: dict[str, str]) -> None:
    """Garbage frames slipped into the app's real event websocket (through a proxy in
    front of the sandbox's ARI) while calls come in: every frame is dropped or ignored,
    every call is served; a frame over the client's size limit costs one reconnect.

    Protocol facts relied on: ARI sends events as JSON text frames; aiohttp's client
    refuses frames over 4 MiB (an ERROR message), which ends the connection."""
    rng = random.Random(6455)
    answered: list[str] = []
    async with AriProxy(voxtra_settings.ari_url) as proxy:
        app = VoxtraApp(voxtra_settings.model_copy(update={"ari_url": proxy.url}))

        @app.route()
        async def hello(call: CallSession) -> None:
            await call.answer()
            answered.append(call.id)
            await call.play_file("sound:beep")

        async with app:
            stream = app.stream
            assert stream is not None
            before = (stream.stats.events, stream.stats.malformed, stream.stats.connects)
            calls = asyncio.gather(*(sip_caller.call(CallerScript("100")) for _ in range(3)))
            sent = 0
            while not calls.done():  # garbage interleaved with the calls' real events
                await proxy.inject(bad_frame(rng))
                sent += 1
                if sent % 20 == 0:
                    await asyncio.sleep(0.005)
            results = await calls
            fuzz_connects = stream.stats.connects
            await proxy.inject("x" * (5 << 20))
            async with asyncio.timeout(10):
                while stream.stats.connects == fuzz_connects or not stream.connected.is_set():
                    await asyncio.sleep(0.05)
            after = await sip_caller.call(CallerScript("100"))
            events = stream.stats.events - before[0]
            malformed = stream.stats.malformed - before[1]
    figures["ari websocket fuzz"] = (
        f"{sent} bad frames on the live event websocket during 3 calls: "
        f"{malformed} dropped, the rest parsed and ignored; {len(answered)} of 4 calls "
        f"answered; reconnects: {fuzz_connects - before[2]} during the fuzz, "
        f"{stream.stats.connects - fuzz_connects} after the oversized frame")
    assert all(r.succeeded for r in results) and after.succeeded
    assert len(answered) == 4
    assert fuzz_connects == before[2]  # no garbage frame cost the connection
    assert stream.stats.connects == fuzz_connects + 1
    assert malformed >= sent / 4 and events > 0
