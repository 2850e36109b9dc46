"""Delivers a call's voice events to the functions subscribed with ``call.on(name, fn)``,
and what every speaker of a call reports through them."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from voxtra.tasks import TaskSet
from voxtra.voice.errors import ProviderError
from voxtra.voice.events import StateChanged, VoiceError, VoiceEvent, VoiceState

log = logging.getLogger(__name__)

Listener = Callable[[Any], Awaitable[None] | None]


class EventEmitter:
    """Runs listeners in order; a coroutine listener runs as a task of its own, so a
    slow one never holds up the audio path. A listener that fails is logged."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._tasks = TaskSet()

    def on(self, name: str, listener: Listener) -> Listener:
        self._listeners.setdefault(name, []).append(listener)
        return listener

    def emit(self, event: VoiceEvent) -> None:
        for listener in self._listeners.get(event.name, ()):
            try:
                result = listener(event)
            except Exception:
                log.exception("listener of %r failed", event.name)
                continue
            if inspect.isawaitable(result):
                self._tasks.spawn(self._guard(event.name, result))

    @staticmethod
    async def _guard(name: str, awaitable: Awaitable[None]) -> None:
        try:
            await awaitable
        except Exception:
            log.exception("listener of %r failed", name)

    async def aclose(self) -> None:
        """Wait briefly for running listeners, then cancel what is left."""
        await self._tasks.join(timeout=1.0)


class Speaker:
    """What a call's voice pipeline and its speech-to-speech conversation share: a voice
    state whose changes are events, and provider failures reported as events."""

    def __init__(self, events: EventEmitter) -> None:
        self.events = events
        self.state = VoiceState.IDLE

    def _set_state(self, state: VoiceState) -> None:
        if state is not self.state:
            self.state = state
            self.events.emit(StateChanged(state))

    def _report(self, error: ProviderError, stage: str) -> None:
        log.warning("voice %s failed: %s", stage, error)
        self.events.emit(VoiceError(stage, error, error.retryable))
