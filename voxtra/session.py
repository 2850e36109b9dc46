"""CallSession: one call and the verbs a handler drives it with.

The session owns what the call created and releases it exactly once, whoever
ends the call. Events reach it in order through :meth:`CallSession.deliver`,
called from the call's own queue (never from the websocket reader).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from voxtra.ari.client import AriClient
from voxtra.ari.models import (
    Channel,
    ChannelDestroyed,
    ChannelStateChange,
    Event,
    PlaybackFinished,
    StasisEnd,
)

log = logging.getLogger(__name__)

HangupCallback = Callable[["CallSession"], Awaitable[None] | None]


class CallState(StrEnum):
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    FAILED = "failed"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallSession:
    """A call in the Stasis application."""

    def __init__(self, client: AriClient, channel: Channel, *, app_name: str,
                 called_number: str, direction: Direction = Direction.INBOUND,
                 metadata: dict[str, Any] | None = None) -> None:
        self._client = client
        self.channel = channel
        self.id = channel.id
        self.app_name = app_name
        self.called_number = called_number
        self.caller_id = channel.caller.number
        self.direction = direction
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.state = CallState.IN_PROGRESS if channel.state == "Up" else CallState.RINGING
        self.hangup_cause: int | None = None
        self._answered_at: float | None = time.monotonic() if channel.state == "Up" else None
        self._ended_at: float | None = None
        self._ended = asyncio.Event()
        self._hangup_callbacks: list[HangupCallback] = []
        self._playbacks: dict[str, asyncio.Future[None]] = {}

    def __repr__(self) -> str:
        return f"<CallSession {self.id} {self.caller_id!r}->{self.called_number!r} {self.state}>"

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def duration(self) -> float:
        """Seconds since the answer (0 before it), up to the end of the call."""
        if self._answered_at is None:
            return 0.0
        return (self._ended_at or time.monotonic()) - self._answered_at

    # Verbs -------------------------------------------------------------------

    async def answer(self) -> None:
        await self._client.answer(self.id)
        if self._answered_at is None:
            self._answered_at = time.monotonic()
        self.state = CallState.IN_PROGRESS

    async def hangup(self, reason: str = "normal") -> None:
        """Hang up; calling it again, or after the caller hung up, does nothing."""
        if not self.ended:
            await self._client.hangup(self.id, reason)

    async def play_file(self, media: str) -> bool:
        """Play ``media`` and return once it has finished (True) or the call ended (False).

        ``media`` is an ARI media URI (``sound:hello-world``, ``recording:NAME``,
        ``tone:ring``, an http(s) URL); a bare name means ``sound:NAME``.
        """
        if ":" not in media:
            media = f"sound:{media}"
        playback_id = f"voxtra-pb-{uuid.uuid4().hex}"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Registered before the request: PlaybackFinished can beat the HTTP reply.
        self._playbacks[playback_id] = done
        try:
            await self._client.play(self.id, media, playback_id)
            return await self._until_ended(done)
        finally:
            self._playbacks.pop(playback_id, None)

    def on_hangup(self, callback: HangupCallback) -> HangupCallback:
        """Run ``callback(call)`` once when the call ends (usable as a decorator)."""
        self._hangup_callbacks.append(callback)
        return callback

    async def wait_ended(self) -> None:
        await self._ended.wait()

    # Events ------------------------------------------------------------------

    def owns_playback(self, playback_id: str) -> bool:
        return playback_id in self._playbacks

    async def deliver(self, event: Event) -> None:
        """Apply one event to the call (in order, from the call's queue)."""
        if isinstance(event, ChannelStateChange):
            self.channel = event.channel
            if event.channel.state == "Up" and self.state is CallState.RINGING:
                self._answered_at = self._answered_at or time.monotonic()
                self.state = CallState.IN_PROGRESS
        elif isinstance(event, PlaybackFinished):
            future = self._playbacks.get(event.playback.id)
            if future is not None and not future.done():
                future.set_result(None)
        elif isinstance(event, ChannelDestroyed):
            self.hangup_cause = event.cause
            await self.finish()
        elif isinstance(event, StasisEnd):
            await self.finish()

    async def finish(self, state: CallState = CallState.COMPLETED) -> None:
        """End the session once: release what it holds, then run the hangup callbacks."""
        if self.ended:
            return
        self._ended_at = time.monotonic()
        if self.state is not CallState.FAILED:
            self.state = state
        self._ended.set()
        for callback in self._hangup_callbacks:
            try:
                result = callback(self)
                if result is not None:
                    await result
            except Exception:
                log.exception("on_hangup callback failed for call %s", self.id)

    async def _until_ended(self, waiter: asyncio.Future[None]) -> bool:
        ended: asyncio.Future[Any] = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait([waiter, ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        return waiter.done()
