"""After the event stream comes back: end the calls that ended while it was away, and
adopt the calls (and clean up the media legs) that arrived or were left meanwhile,
by this process or one that crashed.

ARI facts: ``GET /channels`` lists the channels in the app (the reconciliation,
:class:`voxtra.ari.events.Reconciliation`); a channel's variables outlive the process
that set them, so the playback and recordings a dead process left are named there.
"""

from __future__ import annotations

import contextlib
import logging

from voxtra.app.calls import CAMPAIGN_CHANNEL_PREFIX, Calls
from voxtra.ari.errors import AriError, NotFoundError
from voxtra.ari.events import Reconciliation
from voxtra.ari.models import StasisStart
from voxtra.call.prompts import PLAYBACK_VARIABLE
from voxtra.recording.recorder import RECORDING_LEG_PREFIX, RECORDINGS_VARIABLE

log = logging.getLogger(__name__)

#: Channel technologies of media legs (ExternalMedia, AudioSocket, snoop): never callers.
MEDIA_LEG_TECHNOLOGIES = ("UnicastRTP/", "AudioSocket/", "WebSocket/", "Snoop/")


def reconcile(calls: Calls, result: Reconciliation) -> None:
    """End the calls that ended while away, adopt the new ones."""
    for channel_id in result.gone:
        calls.end(channel_id)
    for channel_id in result.unknown - calls.finished.keys() - calls.context.own_legs.ids:
        calls.spawn(adopt(calls, channel_id), f"adopt-{channel_id}")


async def adopt(calls: Calls, channel_id: str) -> None:
    """Route a call whose ``StasisStart`` was missed while the stream was away."""
    client, app_name = calls.context.client, calls.context.app_name
    try:
        channel = await client.channels.get(channel_id)
    except NotFoundError:
        return
    if channel_id.startswith(RECORDING_LEG_PREFIX):
        return  # a recording's snoop leg: its call, adopted, takes it over
    if channel_id.startswith(CAMPAIGN_CHANNEL_PREFIX):
        return  # a campaign's dial: the campaign, restarted, settles it
    if (channel.name or "").startswith(MEDIA_LEG_TECHNOLOGIES):
        # A media leg whose call was lost (e.g. a previous process crashed): the leg
        # and the bridge Voxtra made for it go (the call, adopted, gets new ones).
        orphans = [b.id for b in await client.bridges.list()
                   if b.id.startswith("voxtra-") and channel_id in b.channels]
        log.info("hanging up orphaned media leg %s (bridges %s)", channel_id, orphans)
        with contextlib.suppress(NotFoundError):
            await client.channels.hangup(channel_id)
        for bridge_id in orphans:
            with contextlib.suppress(AriError):
                await client.bridges.destroy(bridge_id)
        return
    if channel_id not in calls.active and channel_id not in calls.finished:
        log.info("adopting call %s that arrived while ARI was away", channel_id)
        # A playback started by a process that died would hold every request on the
        # channel until it ends (a tone never does): stop it first.
        playback = await client.channels.get_variable(channel_id, PLAYBACK_VARIABLE)
        if playback:
            with contextlib.suppress(AriError):
                await client.playbacks.stop(playback)
        recordings = await client.channels.get_variable(channel_id, RECORDINGS_VARIABLE)
        calls.new(StasisStart(type="StasisStart", application=app_name, channel=channel),
                  recordings)
