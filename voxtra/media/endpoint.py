"""The app's end of an ExternalMedia RTP stream (UDP), one per call.

An :class:`RtpEndpoint` is a UDP socket with a receiver (:mod:`voxtra.media.receiver`:
symmetric RTP, the jitter buffer, the subscribers) and a sender
(:mod:`voxtra.media.sender`: the pacer and the packets), ticked with the other
endpoints of its loop by one batch (:mod:`voxtra.media.batch`). Audio flows one way in
each: datagram → receiver → batch (decode) → subscribers; push → pacer → batch (encode)
→ socket.

With a :class:`~voxtra.media.thread.MediaThread` the socket, the jitter buffer and the
clock live on the media thread's loop, and each tick's received chunks are handed to
the loop that opened the endpoint (where its subscribers are) in one callback.
"""

from __future__ import annotations

import asyncio
from typing import Any

from voxtra.media.audio import AudioChunk, AudioFormat, Pcm
from voxtra.media.batch import MediaBatch, transmit
from voxtra.media.jitter import JitterStats
from voxtra.media.pacer import Pacer, Payload, Playout
from voxtra.media.receiver import Address, EndpointStats, RtpReceiver
from voxtra.media.sender import RtpSender
from voxtra.media.thread import MediaThread, call_in

__all__ = ["Address", "EndpointStats", "RtpEndpoint"]


class RtpEndpoint(asyncio.DatagramProtocol):
    """Receives and sends one call's audio in ``fmt`` over RTP/UDP.

    It is both audio ports of :mod:`voxtra.voice.io`: received audio goes to every
    subscriber (:meth:`subscribe`), and :meth:`push`/:meth:`clear` feed the pacer.
    :attr:`silent` is set once no RTP has come for ``inactivity_timeout`` seconds.
    """

    def __init__(self, fmt: AudioFormat, *, jitter_depth: int = 3,
                 inactivity_timeout: float | None = None, max_queued_chunks: int = 500,
                 thread: MediaThread | None = None) -> None:
        self.format = fmt
        self.receiver = RtpReceiver(fmt, jitter_depth=jitter_depth,
                                    inactivity_timeout=inactivity_timeout,
                                    max_queued_chunks=max_queued_chunks)
        self.sender = RtpSender(fmt, self._send_now)
        self.local: Address | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._batch: MediaBatch | None = None
        #: Where the socket and the clock run (None: on the loop that opens the endpoint).
        self._thread = thread
        #: The loop that opened the endpoint: its subscribers and callbacks run there.
        self._owner: asyncio.AbstractEventLoop | None = None
        self.silent = asyncio.Event()

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
        self.sender.pacer.start(own_phase=False)
        self._batch = MediaBatch.current()
        self._batch.add(self)
        return self.local

    def connect(self, remote: Address, *, learn: bool = False) -> None:
        """Accept packets from, and send to, ``remote`` only (symmetric RTP).

        With ``learn`` (a NAT or relay between us and Asterisk may show another source),
        until the first packet from ``remote``, a source that sends
        :data:`~voxtra.media.receiver.LEARNING_PROBATION` packets in sequence becomes the
        remote instead; then it is fixed, so nobody can take the stream over later."""
        self.receiver.connect(remote, learn=learn)

    async def close(self) -> None:
        if self._thread is None or self._transport is None:
            await self._close()
        else:
            await self._thread.run(self._close())
        self.receiver.close()

    async def _close(self) -> None:
        if self._batch is not None:
            self._batch.remove(self)
            self._batch = None
        await self.sender.pacer.stop()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # For the batch ---------------------------------------------------------------

    @property
    def subscribers_loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop chunks must be handed to, when it is not the clock's (None)."""
        return self._owner if self._thread is not None else None

    def transmit(self, payload: bytes, marker: bool) -> None:
        """Send one encoded frame to the remote (nothing before it is known)."""
        remote = self.receiver.remote
        if self._transport is not None and remote is not None:
            self._transport.sendto(self.sender.packet(payload, marker), remote)

    def went_silent(self) -> None:
        if self._owner is not None:
            call_in(self._owner, self.silent.set)

    def _send_now(self, payload: Payload, marker: bool) -> None:
        transmit([(self, payload, marker)])

    # Receive -------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.receiver.receive(data, addr)

    def subscribe(self, max_chunks: int | None = None) -> Any:
        """Received audio from now on, in order, until the endpoint closes; each
        subscriber gets every chunk (its oldest are dropped if it falls behind)."""
        return self.receiver.subscribe(max_chunks)

    @property
    def remote(self) -> Address | None:
        return self.receiver.remote

    @property
    def receive_format(self) -> AudioFormat:
        return self.receiver.receive_format

    @property
    def payload_type(self) -> int | None:
        return self.receiver.payload_type

    @property
    def stats(self) -> EndpointStats:
        return self.receiver.stats

    @property
    def jitter_stats(self) -> JitterStats:
        return self.receiver.jitter.stats

    @property
    def jitter_seconds(self) -> float:
        """The interarrival jitter estimate (RFC 3550 6.4.1) in seconds."""
        jitter = self.receiver.jitter
        return jitter.stats.jitter / jitter.clock_rate

    @property
    def dropped_overflow(self) -> int:
        """Chunks dropped because a subscriber did not read the received audio fast enough."""
        return self.receiver.dropped_overflow

    # Send ----------------------------------------------------------------------

    @property
    def send_format(self) -> AudioFormat:
        return self.sender.send_format

    @property
    def pacer(self) -> Pacer[Payload]:
        return self.sender.pacer

    def push(self, audio: Pcm | AudioChunk | bytes, sample_rate: int | None = None,
             protected: bool = False) -> Playout:
        """Queue audio for sending; its :class:`Playout` resolves once its last frame
        has gone out.

        ``bytes`` are taken as already encoded in :attr:`send_format`; PCM at
        another ``sample_rate`` is resampled, and encoded frame by frame as it goes out:
        don't change the array after pushing it. ``protected`` audio survives
        :meth:`clear`.
        """
        return self.sender.push(audio, sample_rate, protected)

    def clear(self) -> float:
        """Drop the queued audio that is not protected (barge-in); seconds until the far
        end hears silence."""
        return self.sender.pacer.clear()

    def pause(self) -> float:
        """Hold the queued audio (a possible barge-in); seconds until the far end hears
        silence."""
        return self.sender.pacer.pause()

    def resume(self) -> None:
        """Play on the audio :meth:`pause` held."""
        self.sender.pacer.resume()

    def cancel(self, playout: Playout) -> None:
        """Drop what is still queued of one :meth:`push`."""
        self.sender.pacer.cancel(playout)

    @property
    def queued(self) -> float:
        """Seconds of audio queued and not yet sent."""
        return self.sender.pacer.queued

    async def wait_for_playout(self) -> None:
        """Return once everything queued now has been sent (or dropped)."""
        await self.sender.pacer.wait_for_playout()
