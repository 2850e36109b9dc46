"""Media plane pieces with real UDP sockets on loopback: jitter buffer, pacer, endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import numpy as np
import pytest
import soxr

from voxtra.media.audio import AudioFormat
from voxtra.media.clock import MediaClock
from voxtra.media.endpoint import RtpEndpoint
from voxtra.media.jitter import JitterBuffer
from voxtra.media.pacer import Pacer
from voxtra.media.resample import Resampler, resample
from voxtra.media.rtp import RtpPacket
from voxtra.media.thread import MediaThread


def packet(seq: int, payload: bytes = b"x", ts: int | None = None) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, (ts if ts is not None else seq * 160) & 0xFFFFFFFF,
                     7, payload)


def conceal(last: bytes | None, index: int) -> bytes:
    return b"C"


def test_jitter_buffer_reorders_drops_duplicates_and_conceals() -> None:
    buffer = JitterBuffer(conceal, depth=2)
    out: list[bytes] = []
    for seq, payload in [(10, b"a"), (12, b"c"), (11, b"b"), (11, b"b"), (9, b"z"),
                         (14, b"e"), (15, b"f"), (16, b"g")]:
        buffer.push(seq, seq * 160, payload, time.monotonic(), out)
    assert out == [b"a", b"b", b"c", b"C", b"e", b"f", b"g"]
    stats = buffer.stats
    assert (stats.duplicates, stats.late, stats.lost, stats.released) == (1, 1, 1, 6)


def test_jitter_buffer_survives_the_sequence_wrap() -> None:
    buffer = JitterBuffer(conceal, depth=2)
    out: list[bytes] = []
    for seq in (65534, 65535, 1, 0, 2):
        buffer.push(seq, seq * 160, str(seq).encode(), 0.0, out)
    assert out == [b"65534", b"65535", b"0", b"1", b"2"]
    assert buffer.stats.lost == 0


def test_jitter_buffer_follows_a_stream_restart_behind_or_ahead() -> None:
    for restart in (40000, 30100):  # far behind (past the half-range), then far ahead
        buffer = JitterBuffer(conceal, depth=3)
        out: list[bytes] = []
        for n, seq in enumerate(list(range(100, 110)) + list(range(restart, restart + 10))):
            buffer.push(seq, n * 160, b"%d" % seq, n * 0.02, out)
        # One packet confirms nothing; from the second on, the new stream plays.
        assert out[:10] == [b"%d" % s for s in range(100, 110)]
        assert out[10:] == [b"%d" % s for s in range(restart + 1, restart + 10)]
        assert buffer.stats.restarts == 1 and buffer.stats.late == 1


def test_jitter_buffer_skips_a_long_gap_instead_of_concealing_it() -> None:
    buffer = JitterBuffer(conceal, depth=2)
    out: list[bytes] = []
    for seq in (1, 2, 20, 21, 22):  # a 17-frame gap: 5 concealed, 12 skipped
        buffer.push(seq, seq * 160, b"p", seq * 0.02, out)
    assert out.count(b"C") == 5 and len(out) == 2 + 5 + 3
    assert buffer.stats.lost == 17
    # A jump of more than a second: followed once confirmed, nothing concealed.
    for seq in (2000, 2001, 2002):
        buffer.push(seq, seq * 160, b"q", seq * 0.02, out)
    assert out[-2:] == [b"q", b"q"] and out.count(b"C") == 5


def test_a_stray_packet_ahead_cannot_derail_the_stream() -> None:
    buffer = JitterBuffer(conceal, depth=3)
    out: list[bytes] = []
    for seq in range(100):
        buffer.push(seq, seq * 160, b"good", seq * 0.02, out)
        if seq % 10 == 5:  # now and then a packet from nowhere, 60-2000 frames ahead
            buffer.push(seq + 60 + seq * 19, 0, b"bad", seq * 0.02, out)
    assert out == [b"good"] * 100


def test_jitter_buffer_drops_audio_delayed_past_its_bound_and_tolerates_drift() -> None:
    buffer = JitterBuffer(conceal, depth=3, max_delay=0.2)
    out: list[bytes] = []
    # 100 frames on time, then the receiver stalls: frames 100-129 all arrive 0.5 s late.
    for seq in range(100):
        buffer.push(seq, seq * 160, b"p", seq * 0.02, out)
    for seq in range(100, 130):
        buffer.push(seq, seq * 160, b"p", 3.0 + seq * 0.001, out)
    for seq in range(130, 160):  # caught up
        buffer.push(seq, seq * 160, b"p", seq * 0.02 + 0.01, out)
    assert buffer.stats.delayed == 30 and len(out) == 100 + 5 + 30
    # A sender whose clock runs 100 ppm slow (its timestamps lag ours more and more).
    slow = JitterBuffer(conceal, depth=3, max_delay=0.2)
    for seq in range(180000):  # an hour of audio: 360 ms of drift in all
        slow.push(seq & 0xFFFF, seq * 160, b"p", seq * 0.02 * 1.0001, out)
    assert slow.stats.delayed == 0 and slow.stats.released == 180000


def test_resampler_keeps_tones_and_removes_aliases() -> None:
    t = np.arange(16000) / 16000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    down = resample(tone, 16000, 8000)
    assert len(down) == 8000
    assert abs(np.sqrt(np.mean(down[100:-100].astype(float) ** 2)) - 5657) < 60
    alias = (8000 * np.sin(2 * np.pi * 7000 * t)).astype(np.int16)
    assert np.sqrt(np.mean(resample(alias, 16000, 8000)[100:-100].astype(float) ** 2)) < 10
    # A stream in pieces is the same as the whole at once: nothing happens at the seams.
    for source, target in ((8000, 22050), (24000, 8000)):
        signal = resample(tone, 16000, source)
        stream = Resampler(source, target)
        pieces = np.concatenate([stream.process(c) for c in np.array_split(signal, 13)])
        assert np.array_equal(pieces, Resampler(source, target).process(signal))
    # Converting down, the stream rejects what would alias (about 80 dB down).
    t24 = np.arange(24000) / 24000
    high = (8000 * np.sin(2 * np.pi * 5600 * t24)).astype(np.int16)
    stream = Resampler(24000, 8000)
    out = np.concatenate([stream.process(c) for c in np.array_split(high, 50)])
    assert np.sqrt(np.mean(out[100:].astype(float) ** 2)) < 2


def test_soxr_streaming_cannot_replace_the_stream_resampler() -> None:
    """Why streams keep their own filter (when this fails, move them to soxr): fed 20 ms
    chunks, soxr's filtering presets hold the first ones back (they answer in blocks of
    60 ms and more), and its quick preset, which keeps up, filters nothing (16 to 8 kHz:
    a 5 kHz tone comes out as a 3 kHz alias at full level)."""
    chunk = np.zeros(320, dtype=np.int16)
    for quality in ("LQ", "MQ", "HQ"):
        stream = soxr.ResampleStream(16000, 8000, 1, dtype="int16", quality=quality)
        assert [len(stream.resample_chunk(chunk)) for _ in range(2)] == [0, 0]
    t = np.arange(32000) / 16000
    tone = (8000 * np.sin(2 * np.pi * 5000 * t)).astype(np.int16)
    quick = soxr.ResampleStream(16000, 8000, 1, dtype="int16", quality="QQ")
    ours = Resampler(16000, 8000)
    rms = {name: np.sqrt(np.mean(np.concatenate(
        [convert(tone[i:i + 320]) for i in range(0, len(tone), 320)])[800:].astype(float) ** 2))
        for name, convert in (("quick", quick.resample_chunk), ("ours", ours.process))}
    assert rms["quick"] > 4000 and rms["ours"] < 2


class FakeTime:
    """Time that passes only when the clock sleeps (or a test moves it on)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def clock(self) -> MediaClock:
        return MediaClock(self, self.sleep)


async def test_the_clock_keeps_its_schedule_and_reanchors_after_a_stall() -> None:
    fake = FakeTime()
    clock = fake.clock()
    sent: list[float] = []
    pacer = Pacer(lambda payload, marker: sent.append(fake.now))
    pacer.start(clock=clock)

    def stall_once(now: float) -> None:
        if clock.stats.ticks == 10:
            fake.now += 0.05  # a phase (or the event loop) held the clock 50 ms

    clock.add(stall_once, receive=stall_once)
    done = pacer.enqueue([b"f"] * 30)
    await asyncio.wait_for(done.done, 2)
    clock.remove(stall_once)
    await pacer.stop()
    gaps = np.round(np.diff(sent), 6)
    assert len(sent) == 30 and pacer.stats.late == 0  # 50 ms late is within max_lag
    assert clock.stats.stalls == 1 and clock.stats.worst_lateness == pytest.approx(0.03)
    # One 50 ms hole where the clock was held, then the 20 ms schedule from there on:
    # no burst to catch up (a burst sends back to back).
    assert sorted(set(gaps.tolist())) == [0.02, 0.05] and list(gaps).count(0.05) == 1


async def test_clear_drops_queued_audio_at_once() -> None:
    fake = FakeTime()
    sent: list[bytes] = []
    pacer = Pacer(lambda payload, marker: sent.append(payload))
    pacer.start(own_phase=False, clock=fake.clock())
    playout = pacer.enqueue([b"a"] * 100)
    await asyncio.sleep(0)  # the talkspurt's first frame leaves at once
    for tick in range(1, 5):
        fake.now = tick * 0.02
        pacer.tick(fake.now)
    fake.now += 0.005
    to_silence = pacer.clear()
    pacer.tick(fake.now + 0.02)
    await pacer.stop()
    assert playout.done.cancelled() and len(sent) == 5 == playout.sent
    assert playout.started_at == 0.0
    assert to_silence == pytest.approx(0.015)  # the rest of the frame on its way


def _fed(endpoint: RtpEndpoint, source: tuple[str, int], sequences: list[int]) -> None:
    for seq in sequences:
        endpoint.datagram_received(packet(seq, bytes(160)).build(), source)


@pytest.mark.parametrize("learn", [False, True])
async def test_a_learning_endpoint_takes_the_first_source_that_passes_probation(
        learn: bool) -> None:
    endpoint = RtpEndpoint(AudioFormat.ULAW)
    await endpoint.open()
    announced, relay, attacker = ("127.0.0.1", 4000), ("127.0.0.1", 4002), ("10.0.0.9", 5)
    endpoint.connect(announced, learn=learn)
    _fed(endpoint, attacker, [1, 7, 3, 9])         # out of sequence: never passes
    _fed(endpoint, relay, [100, 101, 102, 103])    # four in sequence: the fourth is taken
    _fed(endpoint, attacker, [10, 11, 12, 13, 14])  # too late: the source is fixed
    _fed(endpoint, announced, [104])
    await endpoint.close()
    if learn:
        assert endpoint.remote == relay and endpoint.stats.learnt_source == relay
        assert endpoint.stats.dropped_foreign == 4 + 3 + 5 + 1
    else:
        assert endpoint.remote == announced and endpoint.stats.learnt_source is None
        assert endpoint.stats.dropped_foreign == 4 + 4 + 5


async def test_a_learning_endpoint_keeps_the_announced_source_once_it_is_heard() -> None:
    endpoint = RtpEndpoint(AudioFormat.ULAW)
    await endpoint.open()
    announced, other = ("127.0.0.1", 4000), ("127.0.0.1", 4002)
    endpoint.connect(announced, learn=True)
    _fed(endpoint, announced, [1])
    _fed(endpoint, other, [50, 51, 52, 53, 54])
    await endpoint.close()
    assert endpoint.remote == announced and endpoint.stats.dropped_foreign == 5


async def test_endpoint_drops_and_counts_bad_packets_and_strangers() -> None:
    endpoint = RtpEndpoint(AudioFormat.ULAW)
    local = await endpoint.open()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    endpoint.connect(peer.getsockname())
    frame = bytes([0xFF]) * 160
    for seq in range(5):
        peer.sendto(packet(seq, frame).build(), local)
    peer.sendto(b"\x80", local)                       # truncated
    peer.sendto(b"garbage that is not rtp!", local)   # version 1
    stranger.sendto(packet(5, frame).build(), local)  # not Asterisk's address
    peer.sendto(RtpPacket(8, 6, 960, 7, frame).build(), local)  # another payload type
    received = []
    async with asyncio.timeout(2):
        async for chunk in endpoint.subscribe():
            received.append(chunk)
            if len(received) == 5:
                break
    await asyncio.sleep(0.05)
    playout = endpoint.push(np.zeros(800, dtype=np.int16))  # 100 ms, five frames
    await asyncio.wait_for(playout.done, 2)
    replies = [RtpPacket.parse(peer.recv(2048)) for _ in range(5)]
    await endpoint.close()
    peer.close()
    stranger.close()
    assert [c.timestamp for c in received] == pytest.approx([0, 0.02, 0.04, 0.06, 0.08])
    assert endpoint.stats.dropped_malformed == 2
    assert endpoint.stats.dropped_foreign == 1
    assert endpoint.stats.dropped_payload_type == 1
    assert [r.sequence - replies[0].sequence for r in replies] == [0, 1, 2, 3, 4]
    assert [r.timestamp - replies[0].timestamp for r in replies] == [0, 160, 320, 480, 640]
    assert replies[0].marker and not replies[1].marker
    assert all(r.payload_type == 0 and len(r.payload) == 160 for r in replies)


async def test_endpoint_reports_a_dead_stream() -> None:
    endpoint = RtpEndpoint(AudioFormat.ULAW, inactivity_timeout=0.2)
    dead = endpoint.silent
    local = await endpoint.open()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        endpoint.connect(peer.getsockname())
        for seq in range(10):  # alive while packets come
            peer.sendto(packet(seq, bytes(160)).build(), local)
            await asyncio.sleep(0.05)
        assert not dead.is_set()
        await asyncio.wait_for(dead.wait(), 2)  # then silence for longer than the timeout
    await endpoint.close()


async def test_protected_audio_survives_clear_and_cancel_drops_one_group() -> None:
    fake = FakeTime()
    sent: list[bytes] = []
    pacer = Pacer(lambda payload, marker: sent.append(payload))
    pacer.start(clock=fake.clock())
    cut = pacer.enqueue([b"i"] * 20)
    kept = pacer.enqueue([b"p"] * 5, protected=True)
    dropped = pacer.enqueue([b"d"] * 5, protected=True)
    pacer.cancel(dropped)
    while len(sent) < 3:
        await asyncio.sleep(0)
    # Five protected frames still to play, after what is left of the one on its way.
    assert 0.1 <= pacer.clear() <= 0.12 + 1e-9
    await asyncio.wait_for(pacer.wait_for_playout(), 2)
    assert kept.done.done() and pacer.queued == 0
    await pacer.stop()
    assert cut.done.cancelled() and dropped.done.cancelled()
    assert sent == [b"i"] * 3 + [b"p"] * 5


async def test_frames_too_late_to_be_heard_are_dropped_not_delayed() -> None:
    fake = FakeTime()
    sent: list[float] = []
    pacer = Pacer(lambda payload, marker: sent.append(fake.now), max_lag=0.1)
    pacer.start(own_phase=False, clock=fake.clock())
    playout = pacer.enqueue([b"f"] * 40)  # frame n is due at n * 20 ms
    await asyncio.sleep(0)
    ticks = [n * 0.02 for n in range(1, 6)] + [0.35 + n * 0.02 for n in range(40)]
    for now in ticks:  # the clock stopped for 250 ms after the sixth frame
        fake.now = now
        pacer.tick(now)
    await pacer.stop()
    # Frames 6 to 12 (due 0.12 to 0.24 s) were more than 100 ms late at 0.35 s: dropped.
    # Frame 13 (due 0.26 s) and the rest play on, 90 ms behind their schedule.
    assert playout.done.done() and pacer.stats.late == 7 and len(sent) == 33
    assert sent[6] == 0.35 and np.allclose(np.diff(sent[6:]), 0.02)


async def test_one_clock_drives_every_pacer_of_the_loop() -> None:
    assert MediaClock.current() is MediaClock.current()
    fake = FakeTime()
    clock = fake.clock()
    sent_at: list[float] = []
    pacers = [Pacer(lambda payload, marker: sent_at.append(fake.now)) for _ in range(50)]
    for pacer in pacers:
        pacer.start(clock=clock)
    assert clock.members == 50
    playouts = [pacer.enqueue([b"f"] * 10) for pacer in pacers]
    await asyncio.wait_for(asyncio.gather(*(p.done for p in playouts)), 2)
    # 10 frames each, all 50 pacers' frames on the same ten instants 20 ms apart.
    instants = sorted(set(sent_at))
    assert len(instants) == 10 and np.allclose(np.diff(instants), 0.02)
    assert all(sent_at.count(at) == 50 for at in instants)
    for pacer in pacers:
        await pacer.stop()
    assert clock.members == 0


@pytest.mark.expected_errors
async def test_a_phase_that_raises_does_not_stop_the_clock(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = MediaClock.current()
    failures = clock.stats.failures
    sent: list[bytes] = []

    def send_or_fail(payload: bytes, marker: bool) -> None:
        if payload == b"bad":
            raise BufferError("an array exporting its buffer")
        sent.append(payload)

    broken, healthy = Pacer(send_or_fail), Pacer(lambda payload, marker: None)
    broken.start()
    healthy.start()
    broken.enqueue([b"ok", b"bad", b"ok", b"ok"])
    playout = healthy.enqueue([b"f"] * 10)
    await asyncio.wait_for(playout.done, 2)  # the other pacer was not held up
    assert clock.stats.failures == failures + 1 and "media phase failed" in caplog.text
    assert sent == [b"ok", b"ok", b"ok"]  # the queue stayed whole around the failure
    for pacer in (broken, healthy):
        await pacer.stop()


async def test_an_endpoint_on_the_media_thread_keeps_time_while_the_loop_blocks() -> None:
    """RTP sockets and the clock on :class:`MediaThread`: queued audio leaves every 20 ms
    while the app's loop is blocked; received audio and playout reach the app's loop."""
    thread = MediaThread()
    endpoint = RtpEndpoint(AudioFormat.ULAW, thread=thread)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(2)
    arrivals: list[float] = []

    def listen() -> None:
        with contextlib.suppress(OSError):
            while True:
                peer.recv(2048)
                arrivals.append(time.monotonic())

    try:
        local = await endpoint.open()
        endpoint.connect(peer.getsockname())
        listener = asyncio.get_running_loop().run_in_executor(None, listen)
        playout = endpoint.push(np.zeros(8000, np.int16))  # one second
        await asyncio.sleep(0.2)
        blocked = time.monotonic()
        time.sleep(0.5)  # noqa: ASYNC251 - the blocked event loop under test
        unblocked = time.monotonic()
        await asyncio.wait_for(playout.done, 2)
        await asyncio.wait_for(listener, 5)  # it ends 2 s after the last frame
        # Every frame left or was dropped as too late to hear; those that left
        # arrived, and about 25 of them while the app's loop was blocked (its
        # clock is on the media thread, not the loop).
        stats = endpoint.pacer.stats
        assert stats.sent + stats.late == 50 and len(arrivals) == stats.sent
        assert sum(blocked < at < unblocked for at in arrivals) >= 10
        chunks = endpoint.subscribe()
        for seq in range(10):
            peer.sendto(packet(seq, b"\xff" * 160).build(), local)
        got = [await asyncio.wait_for(anext(chunks), 2) for _ in range(5)]
        assert [c.timestamp for c in got] == [i * 0.02 for i in range(5)]
    finally:
        await endpoint.close()
        thread.stop()
        peer.close()
