"""CallSession: one call and the verbs a handler drives it with.

The session owns what the call created and releases it exactly once, whoever
ends the call. Events reach it in order through :meth:`CallSession.deliver`,
called from the call's own queue (never from the websocket reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from voxtra.ari.client import AriClient
from voxtra.ari.model_base import Message
from voxtra.ari.models import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelStateChange,
    PlaybackFinished,
    StasisEnd,
)

log = logging.getLogger(__name__)

HangupCallback = Callable[["CallSession"], Awaitable[None] | None]

#: Seconds a hangup waits after the end of a playback. Measured against Asterisk 22:
#: ``PlaybackFinished`` arrives about 120 ms before the last frames of a prompt leave
#: as RTP, so hanging up at once cuts the prompt's end.
PLAYOUT_DRAIN = 0.25


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
        self.caller_id = channel.caller.number or "" if channel.caller else ""
        self.direction = direction
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.state = CallState.IN_PROGRESS if channel.state == "Up" else CallState.RINGING
        self.hangup_cause: int | None = None
        self._answered_at: float | None = time.monotonic() if channel.state == "Up" else None
        self._ended_at: float | None = None
        self._ended = asyncio.Event()
        self._hangup_callbacks: list[HangupCallback] = []
        self._playbacks: dict[str, asyncio.Future[None]] = {}
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._playout_until = 0.0

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
        await self._client.channels.answer(self.id)
        if self._answered_at is None:
            self._answered_at = time.monotonic()
        self.state = CallState.IN_PROGRESS

    async def hangup(self, reason: str = "normal") -> None:
        """Hang up once the last prompt has been heard to its end.

        Calling it again, or after the caller hung up, does nothing.
        """
        drain = self._playout_until - time.monotonic()
        if drain > 0 and not self.ended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), drain)
        if not self.ended:
            await self._client.channels.hangup(self.id, reason)

    async def play_file(self, media: str) -> bool:
        """Play ``media`` and return once it has finished (True) or the call ended (False).

        ``media`` is an ARI media URI (``sound:hello-world``, ``recording:NAME``,
        ``tone:ring``, an http(s) URL); a bare name means ``sound:NAME``.
        Cancelling the call (e.g. ``asyncio.wait_for``) stops the playback; tones
        play until stopped.
        """
        if ":" not in media:
            media = f"sound:{media}"
        playback_id = f"voxtra-pb-{uuid.uuid4().hex}"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Registered before the request: PlaybackFinished can beat the HTTP reply.
        self._playbacks[playback_id] = done
        try:
            await self._client.channels.play(self.id, media, playback_id=playback_id)
            return await self._until_ended(done)
        except asyncio.CancelledError:
            # Cancelling the wait (a timeout, barge-in) stops what the caller hears.
            await asyncio.shield(self._client.playbacks.stop(playback_id))
            raise
        finally:
            self._playbacks.pop(playback_id, None)

    async def listen_dtmf(self, timeout: float | None = None) -> str | None:
        """The next DTMF digit the caller presses; None on timeout or when the call ends.

        Digits pressed earlier (while a prompt played, say) are returned first.
        """
        if not self._digits.empty():
            return self._digits.get_nowait()
        if self.ended:
            return None
        digit = asyncio.ensure_future(self._digits.get())
        try:
            async with asyncio.timeout(timeout):
                if await self._until_ended(digit):
                    return digit.result()
        except TimeoutError:
            pass
        finally:
            digit.cancel()
        return None

    def on_hangup(self, callback: HangupCallback) -> HangupCallback:
        """Run ``callback(call)`` once when the call ends (usable as a decorator)."""
        self._hangup_callbacks.append(callback)
        return callback

    async def wait_ended(self) -> None:
        await self._ended.wait()

    # Events ------------------------------------------------------------------

    def owns_playback(self, playback_id: str) -> bool:
        return playback_id in self._playbacks

    async def deliver(self, event: Message) -> None:
        """Apply one event to the call (in order, from the call's queue)."""
        if isinstance(event, ChannelStateChange):
            self.channel = event.channel
            if event.channel.state == "Up" and self.state is CallState.RINGING:
                self._answered_at = self._answered_at or time.monotonic()
                self.state = CallState.IN_PROGRESS
        elif isinstance(event, ChannelDtmfReceived):
            if event.digit:
                self._digits.put_nowait(event.digit)
        elif isinstance(event, PlaybackFinished):
            future = self._playbacks.get(event.playback.id)
            if future is not None and not future.done():
                self._playout_until = time.monotonic() + PLAYOUT_DRAIN
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

    async def _until_ended(self, waiter: asyncio.Future[Any]) -> bool:
        ended: asyncio.Future[Any] = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait([waiter, ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        return waiter.done()
