"""Every channel Asterisk makes, seen from Asterisk's side, for tests that check what
reached it (how many dials, how many at once, how far apart).

A websocket of its own with ``subscribeAll=true`` (ARI: an application subscribed to all
event sources gets every channel's ``ChannelCreated``, ``ChannelStateChange`` and
``ChannelDestroyed``, each with Asterisk's own ``timestamp``)."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
from datetime import datetime
from typing import Any

import aiohttp

from voxtra.ari.client import AriClient
from voxtra.settings import VoxtraSettings


def _when(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class AsteriskWatch:
    """The channels whose id starts with ``prefix``: when each was made, answered (Up)
    and destroyed, on Asterisk's clock, and what was played to them."""

    def __init__(self, settings: VoxtraSettings, prefix: str) -> None:
        self.prefix = prefix
        self.created: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        self.destroyed: dict[str, float] = {}
        self.names: dict[str, str] = {}
        #: What was played to each channel (``PlaybackStarted``'s media URIs).
        self.played: dict[str, list[str]] = {}
        self._client = AriClient(settings.ari_url, settings.ari_user,
                                 settings.ari_password.get_secret_value(),
                                 ca_file=settings.ari_ca_file)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsteriskWatch:
        url = self._client.base_url.replace("http", "ws", 1) + "/ari/events"
        socket = await self._client.session.ws_connect(
            url, params={"app": "voxtra-watch", "subscribeAll": "true"})
        self._task = asyncio.create_task(self._read(socket))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.close()

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in socket:
            event: dict[str, Any] = json.loads(message.data)
            if event["type"] == "PlaybackStarted":
                playback = event.get("playback") or {}
                target = str(playback.get("target_uri", "")).removeprefix("channel:")
                if target.startswith(self.prefix):
                    self.played.setdefault(target, []).append(playback.get("media_uri", ""))
                continue
            channel = event.get("channel") or {}
            channel_id = channel.get("id", "")
            if not channel_id.startswith(self.prefix):
                continue
            at = _when(event["timestamp"])
            if event["type"] == "ChannelCreated":
                self.created[channel_id] = at
                self.names[channel_id] = channel.get("name", "")
            elif event["type"] == "ChannelStateChange" and channel.get("state") == "Up":
                self.answered.setdefault(channel_id, at)
            elif event["type"] == "ChannelDestroyed":
                self.destroyed[channel_id] = at

    def most_at_once(self) -> int:
        """The most channels that were up (created, not yet destroyed) at one moment."""
        changes = sorted([(t, 1) for t in self.created.values()]
                         + [(t, -1) for t in self.destroyed.values()])
        level = top = 0
        for _, step in changes:  # at equal times a destruction (-1) comes first
            level += step
            top = max(top, level)
        return top

    def most_starts_within(self, seconds: float) -> int:
        """The most channels made within any ``seconds`` (a carrier's calls per second)."""
        starts = sorted(self.created.values())
        return max((bisect.bisect_left(starts, t + seconds) - i for i, t in enumerate(starts)),
                   default=0)

    def start_gaps(self) -> list[float]:
        """Seconds between one channel's creation and the next's."""
        starts = sorted(self.created.values())
        return [b - a for a, b in itertools.pairwise(starts)]
