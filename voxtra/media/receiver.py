"""The receiving half of a call's RTP: which packets are let in, their order, and the
chunks of audio the subscribers get.

Symmetric RTP: packets are accepted only from the address Asterisk sends from
(``UNICASTRTP_LOCAL_ADDRESS``/``_PORT`` of the ExternalMedia channel); anything else
is dropped and counted. Packets are parsed and validated (:mod:`voxtra.media.rtp`) and
put in order by the jitter buffer as they arrive; once per tick the batch takes what
it released (:meth:`RtpReceiver.take`), decodes it and hands the chunks back
(:meth:`RtpReceiver.chunk`, :meth:`RtpReceiver.publish`). If more audio waits than
``jitter_depth`` and a few frames (the process fell behind), the oldest is dropped and
counted instead of being delivered late.

Asterisk 22's chan_rtp sends PCMU (payload type 0) when asked for ``slin`` (seen
against the sandbox), so received audio is decoded by the payload type that arrives.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from voxtra.media.audio import AudioChunk, AudioFormat, Pcm
from voxtra.media.errors import RtpError
from voxtra.media.fanout import Fanout, Subscription
from voxtra.media.jitter import JitterBuffer
from voxtra.media.rtp import RtpPacket

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


class RtpReceiver:
    """Receives one call's audio, announced as ``fmt``."""

    def __init__(self, fmt: AudioFormat, *, jitter_depth: int = 3,
                 inactivity_timeout: float | None = None, max_queued_chunks: int = 500) -> None:
        self.format = fmt
        #: What arrives (decided by the first packet's payload type).
        self.receive_format = fmt
        self.payload_type: int | None = None
        self.stats = EndpointStats()
        self.remote: Address | None = None
        #: Where packets are accepted from: the remote, or None while it is being learnt.
        self._source: Address | None = None
        self._candidate: tuple[Address, int, int] | None = None  # source, last seq, count
        self.jitter = JitterBuffer(self._conceal, jitter_depth, fmt.sample_rate)
        self._released: list[bytes] = []
        self._position = 0  # samples delivered so far: the next chunk's timestamp
        self._backlog = jitter_depth + BACKLOG_FRAMES
        self._fanout: Fanout[AudioChunk] = Fanout(max_queued_chunks)
        self._last_packet = 0.0
        self._inactivity_timeout = inactivity_timeout

    def connect(self, remote: Address, *, learn: bool = False) -> None:
        """Accept packets from ``remote`` only; with ``learn``, see :meth:`RtpEndpoint.connect
        <voxtra.media.endpoint.RtpEndpoint.connect>`."""
        self.remote = remote
        self._source = None if learn else remote
        self._last_packet = time.monotonic()

    def receive(self, data: bytes, addr: tuple[str, int]) -> None:
        """One datagram from ``addr``: into the jitter buffer, or dropped and counted."""
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
            self.jitter.clock_rate = self.receive_format.sample_rate
        now = time.monotonic()
        self._last_packet = now
        self.jitter.push(sequence, timestamp, payload, now, self._released)

    def take(self) -> list[bytes]:
        """The receive phase: the payloads the jitter buffer released since the last
        tick, in order (the oldest dropped if too many wait)."""
        released = self._released
        if released:
            if len(released) > self._backlog:
                self.stats.dropped_late += len(released) - self._backlog
                del released[:len(released) - self._backlog]
            self._released = []
        return released

    def went_silent(self, now: float) -> bool:
        """True once (then never again) when no RTP has come for the inactivity
        timeout: the call is dead."""
        if (self._inactivity_timeout and self.remote is not None
                and now - self._last_packet > self._inactivity_timeout):
            log.warning("no RTP from %s for %.0f s: the call is dead", self.remote,
                        self._inactivity_timeout)
            self._inactivity_timeout = None
            return True
        return False

    def chunk(self, pcm: Pcm) -> AudioChunk:
        """Decoded audio of the stream as its next chunk (with its timestamp)."""
        rate = self.receive_format.sample_rate
        chunk = AudioChunk(pcm, rate, self._position / rate)
        self._position += len(pcm)
        return chunk

    def publish(self, chunk: AudioChunk) -> None:
        """Hand a chunk to every subscriber (on their loop)."""
        self._fanout.publish(chunk)

    def subscribe(self, max_chunks: int | None = None) -> Subscription[AudioChunk]:
        return self._fanout.subscribe(max_chunks)

    @property
    def dropped_overflow(self) -> int:
        return self._fanout.dropped

    def close(self) -> None:
        self._fanout.close()  # ends every subscriber's iteration

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

    def _conceal(self, last: bytes | None, index: int) -> bytes:
        fmt = self.receive_format
        if last is None or index > 0:
            return fmt.silence()
        return fmt.encode((fmt.decode(last) // 2).astype(np.int16))
