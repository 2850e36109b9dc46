"""The app's end of an ExternalMedia RTP stream (UDP), one per call.

Symmetric RTP: packets are accepted only from the address Asterisk sends from
(``UNICASTRTP_LOCAL_ADDRESS``/``_PORT`` of the ExternalMedia channel) and sent
back to it; anything else is dropped and counted. Received packets are parsed
and validated (:mod:`voxtra.media.rtp`), put in order by the jitter buffer and
decoded to PCM chunks; sent audio is split into 20 ms frames and paced.

Packets go into the jitter buffer as they arrive; once per tick of the process's
:class:`~voxtra.media.clock.MediaClock` what it released is decoded and handed to
the subscribers, so a consumer is woken once per tick, not once per packet. If more
audio is waiting than ``jitter_depth`` and a few frames (the process fell behind),
the oldest is dropped and counted instead of being delivered late.

With a :class:`~voxtra.media.thread.MediaThread` the socket, the jitter buffer and the
clock live on the media thread's loop, and each tick's received chunks are handed to
the loop that opened the endpoint (where its subscribers are) in one callback.

The endpoints of a loop are ticked together (:class:`_Batch`): G.711 is a table lookup
per byte, so every call's received frames of a tick are decoded in one array operation,
and every call's outgoing frame in one encode, instead of one numpy call per frame.

Two facts of Asterisk 22's chan_rtp shape the formats (both seen against the
sandbox): it sends PCMU (payload type 0) when asked for ``slin``, so received
audio is decoded by the payload type that arrives; and it ignores RTP it
receives with the dynamic payload type it uses for ``slin16`` (118) while it
accepts static PCMU, so audio for a linear-format leg is sent as PCMU.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxtra.media.audio import AudioChunk, AudioFormat
from voxtra.media.clock import MediaClock
from voxtra.media.errors import RtpError
from voxtra.media.fanout import Fanout, Subscription
from voxtra.media.g711 import Pcm
from voxtra.media.jitter import JitterBuffer, JitterStats
from voxtra.media.pacer import Pacer, Payload, Playout
from voxtra.media.resample import Resampler
from voxtra.media.rtp import RtpPacket
from voxtra.media.thread import MediaThread, call_in

log = logging.getLogger(__name__)

Address = tuple[str, int]


#: Frames beyond the jitter depth that may wait for the next tick before the oldest go:
#: half a second, so a busy moment of the process (speech models at work) costs the
#: caller's audio nothing, while a process that stays behind drops instead of queueing.
BACKLOG_FRAMES = 25


#: Consecutive packets (sequence numbers one apart) a new source must send before a
#: learning endpoint takes it for Asterisk's (RFC 3550 A.1's MIN_SEQUENTIAL doubled).
LEARNING_PROBATION = 4


@dataclass
class EndpointStats:
    dropped_foreign: int = 0
    #: The source Asterisk's RTP was learnt from, when it was not the announced one.
    learnt_source: Address | None = None
    dropped_malformed: int = 0
    dropped_payload_type: int = 0
    #: Received frames dropped because the process fell behind (delivered too late).
    dropped_late: int = 0


class RtpEndpoint(asyncio.DatagramProtocol):
    """Receives and sends one call's audio in ``fmt`` over RTP/UDP.

    It is both audio ports of :mod:`voxtra.voice.io`: received audio goes to every
    subscriber (:meth:`subscribe`), and :meth:`push`/:meth:`clear` feed the pacer.
    """

    def __init__(self, fmt: AudioFormat, *, jitter_depth: int = 3,
                 inactivity_timeout: float | None = None,
                 on_inactive: Callable[[], None] | None = None,
                 max_queued_chunks: int = 500,
                 thread: MediaThread | None = None) -> None:
        self.format = fmt
        #: What arrives (decided by the first packet's payload type) and what we send.
        self.receive_format = fmt
        self.send_format = fmt if fmt.static_payload_type is not None else AudioFormat.ULAW
        self.stats = EndpointStats()
        self.remote: Address | None = None
        self.local: Address | None = None
        #: Where packets are accepted from: the remote, or None while it is being learnt.
        self._source: Address | None = None
        self._candidate: tuple[Address, int, int] | None = None  # source, last seq, count
        self.payload_type: int | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._jitter = JitterBuffer(self._conceal, jitter_depth, fmt.sample_rate)
        self._released: list[bytes] = []
        self._position = 0  # samples delivered so far: the next chunk's timestamp
        self._backlog = jitter_depth + BACKLOG_FRAMES
        self._received: Fanout[AudioChunk] = Fanout(max_queued_chunks)
        self._pacer: Pacer[Payload] = Pacer(self._send_frame)
        self._batch: _Batch | None = None
        self._sequence = random.randrange(0x10000)
        self._timestamp = random.randrange(0x100000000)
        self._ssrc = random.randrange(1, 0x100000000)
        self._last_packet = 0.0
        self._inactivity_timeout = inactivity_timeout
        self._on_inactive = on_inactive
        self._resamplers: dict[int, Resampler] = {}
        #: Where the socket and the clock run (None: on the loop that opens the endpoint).
        self._thread = thread
        #: The loop that opened the endpoint: its subscribers and callbacks run there.
        self._owner: asyncio.AbstractEventLoop | None = None

    # Lifecycle -----------------------------------------------------------------

    async def open(self, host: str = "127.0.0.1", port: int = 0) -> Address:
        """Bind the UDP socket (on the media thread, if the endpoint has one)."""
        self._owner = asyncio.get_running_loop()
        if self._thread is None:
            return await self._open(host, port)
        return await self._thread.run(self._open(host, port))

    async def _open(self, host: str, port: int) -> Address:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self,
                                                           local_addr=(host, port))
        self._transport = transport
        sockname = transport.get_extra_info("sockname")
        self.local = (str(sockname[0]), int(sockname[1]))
        self._pacer.start(own_phase=False)
        self._batch = _Batch.current()
        self._batch.add(self)
        return self.local

    def connect(self, remote: Address, *, learn: bool = False) -> None:
        """Accept packets from, and send to, ``remote`` only (symmetric RTP).

        With ``learn`` (a NAT or relay between us and Asterisk may show another source),
        until the first packet from ``remote``, a source that sends
        :data:`LEARNING_PROBATION` packets in sequence becomes the remote instead; then
        it is fixed, so nobody can take the stream over later."""
        self.remote = remote
        self._source = None if learn else remote
        self._last_packet = time.monotonic()

    def _admitted(self, addr: Address, data: bytes) -> bool:
        """While learning: whether a packet from ``addr`` fixes the source (the announced
        remote at once, another one once it has passed probation)."""
        if self.remote is None or self._source is not None:
            return False
        if addr == self.remote:
            self._source = addr
            return True
        try:
            _, sequence, _, _ = RtpPacket.fields(data)
        except RtpError:
            return False
        candidate = self._candidate
        count = 1
        if candidate is not None and candidate[0] == addr \
                and sequence == (candidate[1] + 1) & 0xFFFF:
            count = candidate[2] + 1
        if count < LEARNING_PROBATION:
            self._candidate = (addr, sequence, count)
            return False
        log.info("RTP from %s:%d, not %s:%d as announced: sending there (NAT or relay)",
                 *addr, *(self.remote or ("?", 0)))
        self.remote = self._source = self.stats.learnt_source = addr
        self._candidate = None
        return True

    async def close(self) -> None:
        if self._thread is None or self._transport is None:
            await self._close()
        else:
            await self._thread.run(self._close())
        self._received.close()  # ends every subscriber's iteration

    async def _close(self) -> None:
        if self._batch is not None:
            self._batch.remove(self)
            self._batch = None
        await self._pacer.stop()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def jitter_stats(self) -> JitterStats:
        return self._jitter.stats

    @property
    def pacer(self) -> Pacer[Payload]:
        return self._pacer

    @property
    def dropped_overflow(self) -> int:
        """Chunks dropped because a subscriber did not read the received audio fast enough."""
        return self._received.dropped

    # Receive -------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        # IPv6 addresses also carry flow info and scope: host and port decide.
        if addr != self._source and (addr[0], addr[1]) != self._source and \
                not self._admitted((str(addr[0]), int(addr[1])), data):
            self.stats.dropped_foreign += 1
            return
        try:
            payload_type, sequence, timestamp, payload = RtpPacket.fields(data)
        except RtpError:
            self.stats.dropped_malformed += 1
            return
        if payload_type != self.payload_type:
            if self.payload_type is not None:
                self.stats.dropped_payload_type += 1
                return
            self.payload_type = payload_type
            self.receive_format = AudioFormat.for_payload_type(payload_type) or self.format
            self._jitter.clock_rate = self.receive_format.sample_rate
        now = time.monotonic()
        self._last_packet = now
        self._jitter.push(sequence, timestamp, payload, now, self._released)

    def _due(self, now: float) -> bool:
        """The receive phase: whether the jitter buffer released frames to deliver (the
        oldest dropped if too many wait); else check for a dead stream."""
        released = self._released
        if released:
            if len(released) > self._backlog:
                self.stats.dropped_late += len(released) - self._backlog
                del released[:len(released) - self._backlog]
            return True
        if (self._inactivity_timeout and self.remote is not None
              and now - self._last_packet > self._inactivity_timeout):
            log.warning("no RTP from %s for %.0f s: the call is dead", self.remote,
                        self._inactivity_timeout)
            self._inactivity_timeout = None
            if self._on_inactive is not None and self._owner is not None:
                call_in(self._owner, self._on_inactive)
        return False

    def _deliver(self, pcm: Pcm, outbox: list[tuple[RtpEndpoint, AudioChunk]]) -> None:
        """Hand a chunk to the subscribers, or to ``outbox`` when they are on another
        loop than the clock's (one hand-over per tick for all of that loop's calls)."""
        rate = self.receive_format.sample_rate
        chunk = AudioChunk(pcm, rate, self._position / rate)
        self._position += len(pcm)
        if self._thread is None:
            self._received.publish(chunk)
        else:
            outbox.append((self, chunk))

    def _conceal(self, last: bytes | None, index: int) -> bytes:
        fmt = self.receive_format
        if last is None or index > 0:
            return fmt.silence()
        return fmt.encode((fmt.decode(last) // 2).astype(np.int16))

    def subscribe(self, max_chunks: int | None = None) -> Subscription[AudioChunk]:
        """Received audio from now on, in order, until the endpoint closes; each
        subscriber gets every chunk (its oldest are dropped if it falls behind)."""
        return self._received.subscribe(max_chunks)

    # Send ----------------------------------------------------------------------

    def push(self, audio: Pcm | AudioChunk | bytes, sample_rate: int | None = None,
             protected: bool = False) -> Playout:
        """Queue audio for sending; its :class:`Playout` resolves once its last frame
        has gone out.

        ``bytes`` are taken as already encoded in :attr:`send_format`; PCM at
        another ``sample_rate`` is resampled. ``protected`` audio survives :meth:`clear`.
        A single G.711 frame of PCM is encoded when it is sent, with the other calls'
        frames of that tick: don't change the array after pushing it.
        """
        fmt = self.send_format
        if isinstance(audio, bytes):
            payload = audio
        else:
            if isinstance(audio, AudioChunk):
                pcm, rate = audio.pcm, audio.sample_rate
            else:
                pcm, rate = audio, sample_rate or self.format.sample_rate
            if rate != fmt.sample_rate:
                resampler = self._resamplers.get(rate)
                if resampler is None:
                    resampler = self._resamplers[rate] = Resampler(rate, fmt.sample_rate)
                pcm = resampler.process(pcm)
            if len(pcm) == fmt.samples_per_frame and fmt.bytes_per_sample == 1:
                return self._pacer.enqueue([pcm], protected)
            payload = fmt.encode(pcm)
        size = fmt.frame_bytes
        if len(payload) == size:  # one frame, as a call's own audio comes
            return self._pacer.enqueue([payload], protected)
        frames = [payload[i:i + size] for i in range(0, len(payload), size)]
        if frames and len(frames[-1]) < size:
            frames[-1] += fmt.silence()[: size - len(frames[-1])]
        return self._pacer.enqueue(frames, protected)

    def clear(self) -> float:
        """Drop the queued audio that is not protected (barge-in); seconds until the far
        end hears silence."""
        return self._pacer.clear()

    def pause(self) -> float:
        """Hold the queued audio (a possible barge-in); seconds until the far end hears
        silence."""
        return self._pacer.pause()

    def resume(self) -> None:
        """Play on the audio :meth:`pause` held."""
        self._pacer.resume()

    def cancel(self, playout: Playout) -> None:
        """Drop what is still queued of one :meth:`push`."""
        self._pacer.cancel(playout)

    @property
    def queued(self) -> float:
        """Seconds of audio queued and not yet sent."""
        return self._pacer.queued

    async def wait_for_playout(self) -> None:
        """Return once everything queued now has been sent (or dropped)."""
        await self._pacer.wait_for_playout()

    def _send_frame(self, payload: Payload, marker: bool) -> None:
        if self._transport is None or self.remote is None:
            return
        if not isinstance(payload, bytes):
            if self._batch is not None and self._batch.sending:
                self._batch.outgoing.append((self, payload, marker))
                return
            payload = self.send_format.encode(payload)
        self._send_packet(payload, marker)

    def _send_packet(self, payload: bytes, marker: bool) -> None:
        assert self._transport is not None and self.remote is not None
        fmt = self.send_format
        assert fmt.static_payload_type is not None
        self._transport.sendto(RtpPacket.header(fmt.static_payload_type, self._sequence,
                                                self._timestamp, self._ssrc, marker)
                               + payload, self.remote)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + fmt.samples_per_frame) & 0xFFFFFFFF


class _Batch:
    """The open endpoints of one event loop, ticked together by its media clock.

    The send phase lets every pacer release its frame, then encodes the G.711 frames
    that were queued as PCM in one array operation per format and sends them; the
    receive phase decodes what every jitter buffer released, G.711 in one operation
    per format, and hands each call its chunks.
    """

    def __init__(self, clock: MediaClock) -> None:
        self.clock = clock
        self.endpoints: dict[RtpEndpoint, None] = {}
        #: True during the send phase: PCM frames wait in :attr:`outgoing` to be encoded.
        self.sending = False
        self.outgoing: list[tuple[RtpEndpoint, Pcm, bool]] = []

    @classmethod
    def current(cls) -> _Batch:
        clock = MediaClock.current()
        batch = _BATCHES.get(clock)
        if batch is None:
            batch = _BATCHES[clock] = cls(clock)
        return batch

    def add(self, endpoint: RtpEndpoint) -> None:
        self.endpoints[endpoint] = None
        self.clock.add(self, receive=self.receive, send=self.send)

    def remove(self, endpoint: RtpEndpoint) -> None:
        self.endpoints.pop(endpoint, None)
        if not self.endpoints:
            self.clock.remove(self)

    def send(self, now: float) -> None:
        self.sending = True
        try:
            for endpoint in list(self.endpoints):
                endpoint.pacer.tick(now)
        finally:
            self.sending = False
        outgoing = self.outgoing
        if not outgoing:
            return
        self.outgoing = []
        groups: defaultdict[AudioFormat, list[tuple[RtpEndpoint, Pcm, bool]]] = \
            defaultdict(list)
        for frame in outgoing:
            groups[frame[0].send_format].append(frame)
        for fmt, frames in groups.items():
            encoded = fmt.encode(np.concatenate([pcm for _, pcm, _ in frames]))
            offset = 0
            for endpoint, pcm, marker in frames:  # G.711: one byte per sample
                if endpoint.remote is not None and endpoint._transport is not None:
                    endpoint._send_packet(encoded[offset:offset + len(pcm)], marker)
                offset += len(pcm)

    def receive(self, now: float) -> None:
        groups: defaultdict[AudioFormat, list[RtpEndpoint]] = defaultdict(list)
        for endpoint in list(self.endpoints):
            if endpoint._due(now):
                groups[endpoint.receive_format].append(endpoint)
        outbox: list[tuple[RtpEndpoint, AudioChunk]] = []
        for fmt, endpoints in groups.items():
            if fmt.bytes_per_sample == 1:
                pcm = fmt.decode(b"".join([p for e in endpoints for p in e._released]))
                offset = 0
                for endpoint in endpoints:
                    for payload in endpoint._released:
                        end = offset + len(payload)
                        # A copy: a view would keep every call's audio of the tick alive
                        # for as long as any consumer keeps its chunk.
                        endpoint._deliver(pcm[offset:end].copy(), outbox)
                        offset = end
                    endpoint._released.clear()
            else:
                for endpoint in endpoints:
                    for payload in endpoint._released:
                        endpoint._deliver(fmt.decode(payload), outbox)
                    endpoint._released.clear()
        if outbox:
            owners: dict[asyncio.AbstractEventLoop, list[tuple[RtpEndpoint, AudioChunk]]] = {}
            for item in outbox:
                owner = item[0]._owner
                if owner is not None:
                    owners.setdefault(owner, []).append(item)
            for owner, items in owners.items():
                call_in(owner, _publish, items)


def _publish(items: list[tuple[RtpEndpoint, AudioChunk]]) -> None:
    """On the subscribers' loop: hand each call its chunks of a tick."""
    for endpoint, chunk in items:
        endpoint._received.publish(chunk)


_BATCHES: weakref.WeakKeyDictionary[MediaClock, _Batch] = weakref.WeakKeyDictionary()
