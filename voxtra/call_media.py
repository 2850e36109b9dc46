"""A call's media leg: an ExternalMedia channel bridged with the caller, and our RTP end.

Created on demand by the call (``audio_stream()``, ``send_audio()``, ``play_audio()``)
and released with it. The ExternalMedia channel gets our own id, registered as one
of the app's own legs before the request, so its ``StasisStart`` is never taken
for a new call. ARI facts: ``POST /channels/externalMedia`` answers with the
channel, whose ``channelvars`` hold ``UNICASTRTP_LOCAL_ADDRESS``/``_PORT``, the
address Asterisk sends from and expects RTP on.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError
from voxtra.errors import VoxtraError
from voxtra.legs import OwnLegs
from voxtra.media.audio import AudioFormat
from voxtra.media.endpoint import RtpEndpoint
from voxtra.media.thread import MediaThread

log = logging.getLogger(__name__)


class MediaPortsExhaustedError(VoxtraError, OSError):
    """No port of the configured RTP range is free."""


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
                 own_legs: OwnLegs, on_inactive: Callable[[], None]) -> None:
        self._client = client
        self._app_name = app_name
        self._channel_id = channel_id
        self._own_legs = own_legs
        self.config = config
        self.endpoint = RtpEndpoint(config.format, jitter_depth=config.jitter_depth,
                                    inactivity_timeout=config.inactivity_timeout,
                                    on_inactive=on_inactive, thread=config.thread)
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
