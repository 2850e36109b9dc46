"""An ExternalMedia round trip through Asterisk, as ``voxtra check`` runs it: does audio
go out to Asterisk and come back?

Two ExternalMedia channels (ARI ``POST /channels/externalMedia``) of a Stasis application
of the check's own, each with an RTP end here, join one mixing bridge; a 1 kHz tone
sent into one must come out of the other. Nothing of a running app is touched. ARI
facts relied on: an ExternalMedia channel enters Stasis at once and names where
Asterisk listens in its ``UNICASTRTP_LOCAL_ADDRESS``/``_PORT`` variables; a mixing
bridge sends every member the others' audio (RFC 3550 RTP, one packet per 20 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid

import numpy as np

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError
from voxtra.ari.events import EventStream
from voxtra.ari.legs import OwnLegs
from voxtra.call.media import CallMedia, MediaConfig
from voxtra.errors import VoxtraError
from voxtra.media.endpoint import RtpEndpoint

TONE_HZ = 1000.0


class MediaCheckError(VoxtraError):
    """The round trip failed; the message says where the audio stopped and what to
    check."""


def _is_tone(pcm: np.ndarray, rate: int) -> bool:
    if len(pcm) < 32 or float(np.sqrt(np.mean(pcm.astype(float) ** 2))) < 300:
        return False
    spectrum = np.abs(np.fft.rfft(pcm.astype(float) * np.hanning(len(pcm))))
    return abs(float(np.fft.rfftfreq(len(pcm), 1 / rate)[np.argmax(spectrum)]) - TONE_HZ) < 60


async def media_round_trip(client: AriClient, app_name: str, config: MediaConfig,
                           timeout: float = 3.0) -> float:
    """Seconds from the tone's first frame sent to its first frame heard back."""
    config = dataclasses.replace(config, thread=None)  # on this loop, for the check
    check_app = f"{app_name}-check-{uuid.uuid4().hex[:8]}"
    legs = OwnLegs()
    stream = EventStream(client, check_app, legs.observe)
    running = asyncio.create_task(stream.run(), name="media-check-events")
    far = RtpEndpoint(config.format, jitter_depth=config.jitter_depth)
    far_id = f"voxtra-check-{uuid.uuid4().hex}"
    near: CallMedia | None = None
    try:
        await asyncio.wait_for(stream.connected.wait(), 5)
        host, port = await far.open(config.bind)
        entered = legs.add(far_id)
        try:
            leg = await client.channels.external_media(
                check_app, f"{config.advertise or host}:{port}", config.format.asterisk_name,
                channel_id=far_id, direction="both")
        except AriError as exc:
            raise MediaCheckError(f"Asterisk refused an ExternalMedia channel ({exc}): "
                                  "load chan_rtp (module load chan_rtp.so)") from None
        variables = leg.channelvars or {}
        far.connect((str(variables["UNICASTRTP_LOCAL_ADDRESS"]),
                     int(variables["UNICASTRTP_LOCAL_PORT"])))
        await asyncio.wait_for(entered.wait(), 5)
        near = CallMedia(client, check_app, far_id, config, legs)
        await near.open()
        heard = far.subscribe()
        rate = config.format.sample_rate
        seconds = np.arange(int(rate * timeout)) / rate
        near.endpoint.push((8000 * np.sin(2 * np.pi * TONE_HZ * seconds)).astype(np.int16),
                           rate)
        sent = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                async for chunk in heard:
                    if _is_tone(chunk.pcm, chunk.sample_rate):
                        return time.monotonic() - sent
        except TimeoutError:
            pass
        asterisk = f"{variables['UNICASTRTP_LOCAL_ADDRESS']}:{variables['UNICASTRTP_LOCAL_PORT']}"
        if far.jitter_stats.received == 0 or near.endpoint.jitter_stats.received == 0:
            raise MediaCheckError(
                f"no RTP from Asterisk ({asterisk}) reached {config.advertise or host}:"
                f"{port}: set media_advertise to this host's address as Asterisk sees it "
                "(NAT), and let UDP from Asterisk in (firewall; media_ports fixes our "
                "ports)")
        raise MediaCheckError(
            f"RTP comes from Asterisk but ours does not reach it at {asterisk} (one-way "
            f"audio): let UDP from {config.bind} out to Asterisk's RTP ports (rtp.conf)")
    finally:
        if near is not None:
            await near.close()
        with contextlib.suppress(AriError):
            await client.channels.hangup(far_id)
        await far.close()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running
