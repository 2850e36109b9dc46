"""The dials a dead worker left: what became of them, asked of Asterisk.

A channel outlives the process that dialled it (``GET /channels/{channelId}``); its
events reach another worker only if both share the Stasis application, so the channel
is looked at every 0.2 s as well as watched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError, NotFoundError
from voxtra.ari.legs import OwnLegs
from voxtra.ari.model_base import Message
from voxtra.ari.models import ChannelStateChange, StasisStart


async def left_answered(client: AriClient, legs: OwnLegs, channel_id: str,
                        give_up: float) -> bool:
    """Whether the dial on ``channel_id`` was answered: its channel is up, or comes up
    before it ends (a ringing one is watched for at most ``give_up`` seconds). A channel
    still there is hung up: the handler that would have run is gone."""
    answered = asyncio.Event()

    def observe(event: Message) -> None:
        if isinstance(event, StasisStart) or (
                isinstance(event, ChannelStateChange) and event.channel.state == "Up"):
            answered.set()

    legs.add(channel_id, observe)  # before looking: no change is missed
    try:
        deadline = time.monotonic() + give_up
        while not answered.is_set():
            try:
                channel = await client.channels.get(channel_id)
            except NotFoundError:
                return answered.is_set()
            if channel.state == "Up":
                answered.set()
            elif time.monotonic() > deadline:
                break
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), 0.2)
        with contextlib.suppress(AriError):
            await client.channels.hangup(channel_id)
        return answered.is_set()
    finally:
        legs.discard(channel_id)


def dead_here(owner: str) -> bool:
    """True if ``owner`` (``host:pid:...``) was a process of this host that is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
