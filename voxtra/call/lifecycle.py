"""The framework's side of a call: ARI events applied in order, and the end.

:mod:`voxtra.app.calls` hands each event of the call's channel to :meth:`Lifecycle.deliver`,
from the call's own queue (never from the websocket reader). ARI facts: a far-end
hangup's cause comes in ``ChannelHangupRequest`` (16 for a BYE), while
``ChannelDestroyed`` may then say 0; an originated channel enters Stasis when answered.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from voxtra.ari.model_base import Message
from voxtra.ari.models import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelLeftBridge,
    ChannelStateChange,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
    StasisStart,
)
from voxtra.call.errors import CallEndedError
from voxtra.call.state import CallState, Direction, Outcome

if TYPE_CHECKING:
    from voxtra.call.session import CallSession

log = logging.getLogger(__name__)

HangupCallback = (Callable[["CallSession"], Awaitable[None] | None]
                  | Callable[[], Awaitable[None] | None])


class Lifecycle:
    """Applies one call's events and ends it once, whoever ends it."""

    def __init__(self, call: CallSession) -> None:
        self._call = call
        self._callbacks: list[HangupCallback] = []
        #: The call is leaving the app for the dialplan: its StasisEnd is the end.
        self.leaving = False
        #: The call visits the dialplan and comes back: its StasisEnd is not the end,
        #: and the StasisStart that brings it back resolves this with its arguments.
        self.away: asyncio.Future[list[str]] | None = None

    def on_hangup(self, callback: HangupCallback) -> HangupCallback:
        self._callbacks.append(callback)
        return callback

    async def deliver(self, event: Message) -> None:
        """Apply one event to the call (in order, from the call's queue)."""
        call = self._call
        if isinstance(event, ChannelDtmfReceived | PlaybackFinished):
            call._prompts.deliver(event)
        elif isinstance(event, StasisStart) and self.away is not None:
            call.channel = event.channel
            if not self.away.done():
                self.away.set_result(list(event.args))
            self.away = None
        elif isinstance(event, StasisStart):
            self._entered(event.channel)
        elif isinstance(event, ChannelStateChange):
            call.channel = event.channel
            if event.channel.state == "Up" and call.state is CallState.RINGING:
                call._answered_at = call._answered_at or time.monotonic()
                call.state = CallState.IN_PROGRESS
        elif isinstance(event, RecordingFinished | RecordingFailed):
            call._recorder.on_event(event)
        elif isinstance(event, ChannelHangupRequest):
            call._hanging_up = True
            if event.cause:
                call.hangup_cause = event.cause
        elif isinstance(event, ChannelDestroyed):
            if event.cause:
                call.hangup_cause = event.cause
            await self.finish()
        elif isinstance(event, ChannelLeftBridge):
            call._bridging.deliver(event)
        elif isinstance(event, StasisEnd) and self.away is None:
            await self.finish()

    def _entered(self, channel: Channel) -> None:
        """The channel entered Stasis: for an originated call, it was answered."""
        call = self._call
        call.channel = channel
        if call.direction is Direction.OUTBOUND and not call.outcome.done():
            call._answered_at = time.monotonic()
            call.state = CallState.IN_PROGRESS
            call.outcome.set_result(Outcome.ANSWERED)

    def fail(self) -> None:
        """The handler failed: the call ends as FAILED."""
        self._call.state = CallState.FAILED

    def adopt_recordings(self, noted: str) -> list[str]:
        """Take over the recordings a crashed process left running on this call (the app
        does this when it adopts the call); their names. They reach the app's
        ``recording_sink`` when stopped or when the call ends."""
        return self._call._recorder.resume(noted)

    async def finish(self, state: CallState = CallState.COMPLETED) -> None:
        """End the call once: release what it holds, then run the hangup callbacks."""
        call = self._call
        if call.ended:
            return
        call._ended_at = time.monotonic()
        if self.away is not None and not self.away.done():
            self.away.set_exception(CallEndedError(f"call {call.id} ended in the dialplan"))
        if not call.outcome.done():  # an originated call that was never answered
            call.outcome.set_result(Outcome.from_cause(call.hangup_cause))
            state = CallState.FAILED
        if call.state is not CallState.FAILED:
            call.state = state
        call._ended.set()
        await call._voice.close()
        await call._audio.close()
        await call._bridging.close()
        await call._recorder.finish_all(call._party)
        for callback in self._callbacks:
            try:
                result = callback(call) if _takes_argument(callback) else callback()  # type: ignore[call-arg]
                if result is not None:
                    await result
            except Exception:
                log.exception("on_hangup callback failed for call %s", call.id)
        await call._tasks.join()

def _takes_argument(callback: Callable[..., Any]) -> bool:
    """Whether ``callback`` can be called with one positional argument."""
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: assume it does
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in parameters)
