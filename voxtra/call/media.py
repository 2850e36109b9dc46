"""A call's media leg: an ExternalMedia channel bridged with the caller, and our RTP end.

Created on demand by the call (``audio_stream()``, ``send_audio()``, ``play_audio()``:
:class:`CallAudio`) and released with it. The ExternalMedia channel gets our own id,
registered as one of the app's own legs before the request, so its ``StasisStart`` is
never taken for a new call. ARI facts: ``POST /channels/externalMedia`` answers with
the channel, whose ``channelvars`` hold ``UNICASTRTP_LOCAL_ADDRESS``/``_PORT``, the
address Asterisk sends from and expects RTP on.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError
from voxtra.ari.legs import OwnLegs
from voxtra.call.errors import MediaPortsExhaustedError
from voxtra.media.audio import AudioChunk, AudioFormat, Pcm
from voxtra.media.endpoint import RtpEndpoint
from voxtra.media.thread import MediaThread

if TYPE_CHECKING:
    from voxtra.call.session import CallSession


#: Seconds a hangup waits after the last frame of our own RTP audio was sent. Measured
#: against Asterisk 22: hanging up as the last frame left lost that frame at the
#: caller; 0.1 s later it arrived every time (6 of 6).
MEDIA_DRAIN = 0.1


@dataclass(frozen=True)
class MediaConfig:
    """Where our RTP end listens and what Asterisk is told (they differ behind NAT)."""

    format: AudioFormat = AudioFormat.ULAW
    bind: str = "127.0.0.1"
    advertise: str | None = None
    #: The first and last UDP port our RTP sockets may use (any free port if None).
    ports: tuple[int, int] | None = None
    jitter_depth: int = 3
    inactivity_timeout: float | None = 30.0
    #: Where RTP sockets and the media clock run; on the app's loop if None.
    thread: MediaThread | None = None


class CallMedia:
    def __init__(self, client: AriClient, app_name: str, channel_id: str, config: MediaConfig,
                 own_legs: OwnLegs) -> None:
        self._client = client
        self._app_name = app_name
        self._channel_id = channel_id
        self._own_legs = own_legs
        self.config = config
        self.endpoint = RtpEndpoint(config.format, jitter_depth=config.jitter_depth,
                                    inactivity_timeout=config.inactivity_timeout,
                                    thread=config.thread)
        self.leg_id = f"voxtra-em-{uuid.uuid4().hex}"
        self.bridge_id = f"voxtra-media-{uuid.uuid4().hex}"

    async def open(self) -> None:
        host, port = await self._open_endpoint()
        entered = self._own_legs.add(self.leg_id)
        try:
            leg = await self._client.channels.external_media(
                self._app_name, f"{self.config.advertise or host}:{port}",
                self.config.format.asterisk_name, channel_id=self.leg_id, direction="both")
            variables = leg.channelvars or {}
            # Advertised elsewhere than bound: a NAT or relay is in between, and
            # Asterisk's packets may come from another address than it names.
            self.endpoint.connect((str(variables["UNICASTRTP_LOCAL_ADDRESS"]),
                                   int(variables["UNICASTRTP_LOCAL_PORT"])),
                                  learn=self.config.advertise not in (None, host))
            await self._client.bridges.create("mixing", bridge_id=self.bridge_id,
                                              name=f"media-{self._channel_id}")
            await asyncio.wait_for(entered.wait(), 10)
            await self._client.bridges.add_channel(self.bridge_id,
                                                   [self._channel_id, self.leg_id])
        except BaseException:
            await self.close()
            raise

    async def _open_endpoint(self) -> tuple[str, int]:
        """Bind the RTP socket: any free port, or one of the configured range (tried
        from a random place in it)."""
        if self.config.ports is None:
            return await self.endpoint.open(self.config.bind)
        first, last = self.config.ports
        count = last - first + 1
        start = random.randrange(count)
        for offset in range(count):
            try:
                return await self.endpoint.open(self.config.bind,
                                                first + (start + offset) % count)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise MediaPortsExhaustedError(
            f"every UDP port of media_ports {first}-{last} on {self.config.bind} is in "
            "use: widen the range (each call with media needs one)")

    async def close(self) -> None:
        """Release the RTP socket, the ExternalMedia channel and the bridge (once each)."""
        await self.endpoint.close()
        with contextlib.suppress(AriError):
            await self._client.channels.hangup(self.leg_id)
        with contextlib.suppress(AriError):
            await self._client.bridges.destroy(self.bridge_id)
        self._own_legs.discard(self.leg_id)


class CallAudio:
    """The media verbs of one call (``call.audio_stream``, ``call.send_audio``, ...),
    over its media leg, opened on first use."""

    def __init__(self, call: CallSession) -> None:
        self._call = call
        #: The media leg, once audio has been used.
        self.leg: CallMedia | None = None
        self._lock = asyncio.Lock()
        #: Hangs the call up if its RTP stops (the leg's endpoint goes silent).
        self._watch: asyncio.Future[None] | None = None

    async def open(self) -> CallMedia:
        """The call's media leg, opened now if it is not yet."""
        async with self._lock:
            if self.leg is None:
                context, call = self._call._context, self._call
                leg = CallMedia(context.client, context.app_name, call.id, context.media,
                                context.own_legs)
                await leg.open()
                self.leg = leg
                self._watch = call._tasks.spawn(self._hang_up_when_silent(leg))
            return self.leg

    async def stream(self) -> AsyncIterator[AudioChunk]:
        leg = await self.open()
        async for chunk in leg.endpoint.subscribe():
            yield chunk

    async def send(self, audio: Pcm | AudioChunk | bytes, sample_rate: int | None,
                   interruptible: bool) -> asyncio.Future[None]:
        leg = await self.open()
        return leg.endpoint.push(audio, sample_rate, protected=not interruptible).done

    async def play(self, pcm: Pcm, sample_rate: int | None, interruptible: bool) -> bool:
        leg = await self.open()
        playout = leg.endpoint.push(pcm, sample_rate, protected=not interruptible)
        try:
            played = (await self._call._until_ended(asyncio.shield(playout.done))
                      and not playout.done.cancelled())
            self._call._drain_after(MEDIA_DRAIN)
            return played
        except asyncio.CancelledError:
            # Our caller gave up waiting (a timeout, say): stop what the caller hears.
            if interruptible:
                leg.endpoint.cancel(playout)
            raise

    def clear(self) -> float:
        """Drop the interruptible audio queued; seconds until the caller hears silence."""
        return self.leg.endpoint.clear() if self.leg is not None else 0.0

    async def close(self) -> None:
        """Release the media leg (the call ended: it stays readable for its counters)."""
        if self._watch is not None:
            self._watch.cancel()
        if self.leg is not None:
            await self.leg.close()

    async def release(self) -> None:
        """Release the media leg and let go (the call leaves its media bridge)."""
        await self.close()
        self.leg = None

    async def _hang_up_when_silent(self, leg: CallMedia) -> None:
        """No RTP for the inactivity timeout: the call is dead, hang it up."""
        await leg.endpoint.silent.wait()
        await self._call.hangup()
