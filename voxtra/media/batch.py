"""The endpoints of one event loop, ticked together by its media clock.

Send phase: the batch takes each pacer's due frame (:meth:`Pacer.next_frame
<voxtra.media.pacer.Pacer.next_frame>`), encodes the frames queued as PCM in one array
operation per format (G.711 is a table lookup per byte) and sends every packet.
Receive phase: it takes what every jitter buffer released, decodes it (G.711 in one
operation per format) and hands each call its chunks; the chunks of endpoints whose
subscribers are on another loop (the media thread's endpoints) go there in one
callback per loop and tick. A talkspurt's first frame, sent between ticks, takes the
same path as a group of one.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from voxtra.media.audio import AudioChunk, AudioFormat, Pcm
from voxtra.media.clock import MediaClock
from voxtra.media.pacer import Payload
from voxtra.media.thread import call_in

if TYPE_CHECKING:
    from voxtra.media.endpoint import RtpEndpoint

Frame = tuple["RtpEndpoint", Payload, bool]


class MediaBatch:
    """The open endpoints of one event loop."""

    def __init__(self, clock: MediaClock) -> None:
        self.clock = clock
        self.endpoints: dict[RtpEndpoint, None] = {}

    @classmethod
    def current(cls) -> MediaBatch:
        """The running loop's batch."""
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
        frames = []
        for endpoint in list(self.endpoints):
            frame = endpoint.sender.pacer.next_frame(now)
            if frame is not None:
                frames.append((endpoint, *frame))
        if frames:
            transmit(frames)

    def receive(self, now: float) -> None:
        groups: defaultdict[AudioFormat, list[tuple[RtpEndpoint, list[bytes]]]] = \
            defaultdict(list)
        for endpoint in list(self.endpoints):
            receiver = endpoint.receiver
            released = receiver.take()
            if released:
                groups[receiver.receive_format].append((endpoint, released))
            elif receiver.went_silent(now):
                endpoint.went_silent()
        away: dict[asyncio.AbstractEventLoop, list[tuple[RtpEndpoint, AudioChunk]]] = {}
        for fmt, group in groups.items():
            for endpoint, pcm in _decoded(fmt, group):
                chunk = endpoint.receiver.chunk(pcm)
                owner = endpoint.subscribers_loop
                if owner is None:
                    endpoint.receiver.publish(chunk)
                else:
                    away.setdefault(owner, []).append((endpoint, chunk))
        for owner, items in away.items():
            call_in(owner, _publish, items)


def transmit(frames: list[Frame]) -> None:
    """Encode the frames queued as PCM, one array operation per format, and send all."""
    pending: defaultdict[AudioFormat, list[Frame]] = defaultdict(list)
    for frame in frames:
        endpoint, payload, marker = frame
        if isinstance(payload, bytes):
            endpoint.transmit(payload, marker)
        else:
            pending[endpoint.sender.send_format].append(frame)
    for fmt, group in pending.items():
        pcms: list[Pcm] = [payload for _, payload, _ in group]  # type: ignore[misc]
        encoded = fmt.encode(np.concatenate(pcms))
        offset = 0
        for (endpoint, _, marker), pcm in zip(group, pcms, strict=True):
            size = len(pcm) * fmt.bytes_per_sample
            endpoint.transmit(encoded[offset:offset + size], marker)
            offset += size


def _decoded(fmt: AudioFormat, group: list[tuple[RtpEndpoint, list[bytes]]]
             ) -> Iterator[tuple[RtpEndpoint, Pcm]]:
    """Each endpoint's payloads decoded, in order; G.711 in one operation for the group."""
    if fmt.bytes_per_sample != 1:
        for endpoint, released in group:
            for payload in released:
                yield endpoint, fmt.decode(payload)
        return
    pcm = fmt.decode(b"".join([p for _, released in group for p in released]))
    offset = 0
    for endpoint, released in group:
        for payload in released:
            end = offset + len(payload)
            # A copy: a view would keep every call's audio of the tick alive for as
            # long as any consumer keeps its chunk.
            yield endpoint, pcm[offset:end].copy()
            offset = end


def _publish(items: list[tuple[RtpEndpoint, AudioChunk]]) -> None:
    """On the subscribers' loop: hand each call its chunks of a tick."""
    for endpoint, chunk in items:
        endpoint.receiver.publish(chunk)


_BATCHES: weakref.WeakKeyDictionary[MediaClock, MediaBatch] = weakref.WeakKeyDictionary()
