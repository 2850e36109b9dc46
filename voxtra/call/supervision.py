"""Supervision of a live call: a supervisor listens, whispers, or barges in.

Listening and whispering go through an ARI snoop channel on the call
(``POST /channels/{id}/snoop``): ``spy=both`` hands the supervisor both directions
of the call mixed; ``whisper=out`` sends the supervisor's audio out to the call's
own party only (the caller hears it, the other side does not). Barging in adds the
supervisor to the bridge the call is in, so everyone hears everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError
from voxtra.ari.legs import OwnLegs
from voxtra.call.dialing import DialedLeg
from voxtra.call.transfer import destroy_bridge

#: What a supervisor can do, and the snoop directions each needs (spy, whisper).
MODES = {"listen": ("both", None), "whisper": ("both", "out"), "barge": (None, None)}


class Supervision:
    """A supervisor on a call, until :meth:`end`, the supervisor's hangup, or the
    call's end."""

    def __init__(self, client: AriClient, own_legs: OwnLegs, mode: str,
                 supervisor: str, leg: DialedLeg | None) -> None:
        self.mode = mode
        #: The supervisor's channel (dialled by the app, or another call's).
        self.supervisor = supervisor
        self._client = client
        self._own_legs = own_legs
        self._leg = leg
        self._snoop_id: str | None = None
        self._bridge_id: str | None = None  # the supervision's own bridge
        self._barged_into: str | None = None  # the call's bridge
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def snoop(self, app_name: str, channel_id: str) -> None:
        """Listen or whisper: a snoop channel on ``channel_id`` bridged with the supervisor."""
        spy, whisper = MODES[self.mode]
        snoop_id = self._snoop_id = f"voxtra-snoop-{uuid.uuid4().hex}"
        entered = self._own_legs.add(snoop_id)
        await self._client.channels.snoop(channel_id, app_name, spy=spy, whisper=whisper,
                                          snoop_id=snoop_id)
        await asyncio.wait_for(entered.wait(), 10)
        bridge_id = self._bridge_id = f"voxtra-sup-{uuid.uuid4().hex}"
        await self._client.bridges.create("mixing", bridge_id=bridge_id, name="supervision")
        await self._client.bridges.add_channel(bridge_id, [snoop_id, self.supervisor])

    async def barge(self, bridge_id: str) -> None:
        """Join the supervisor to the call's bridge."""
        self._barged_into = bridge_id
        await self._client.bridges.add_channel(bridge_id, self.supervisor)

    async def end(self) -> None:
        """Take the supervisor off the call (a dialled supervisor is hung up)."""
        if self.ended.done():
            return
        self.ended.set_result(None)
        if self._snoop_id is not None:
            with contextlib.suppress(AriError):
                await self._client.channels.hangup(self._snoop_id)
            self._own_legs.discard(self._snoop_id)
        if self._bridge_id is not None:
            await destroy_bridge(self._client, self._bridge_id)
        if self._leg is not None:
            await self._leg.hangup()
        elif self._barged_into is not None:  # another call of the app: it stays up
            with contextlib.suppress(AriError):
                await self._client.bridges.remove_channel(self._barged_into, self.supervisor)
