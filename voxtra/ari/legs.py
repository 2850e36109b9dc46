"""The channels Voxtra creates for its own use: ExternalMedia legs, dialled targets,
snoop channels for recording. They enter the app's Stasis application like calls do,
so the app's dispatcher sends their events here instead of routing them as new calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from voxtra.ari.model_base import Message
from voxtra.ari.models import StasisStart


class OwnLegs:
    """Channels Voxtra creates for its own use: never routed as calls; their entry into
    Stasis can be awaited (an ExternalMedia leg must be in Stasis before it is bridged,
    and its ``StasisStart`` may come after the REST reply)."""

    def __init__(self) -> None:
        self._entered: dict[str, asyncio.Event] = {}
        self._observers: dict[str, Callable[[Message], None]] = {}

    def add(self, channel_id: str,
            observer: Callable[[Message], None] | None = None) -> asyncio.Event:
        """Register a leg (before the request that creates it); ``observer`` gets each
        of its events."""
        if observer is not None:
            self._observers[channel_id] = observer
        return self._entered.setdefault(channel_id, asyncio.Event())

    def discard(self, channel_id: str) -> None:
        self._entered.pop(channel_id, None)
        self._observers.pop(channel_id, None)

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._entered

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._entered)

    def observe(self, event: Message) -> None:
        """Note an event about one of our legs (called by the app's dispatcher)."""
        if isinstance(event, StasisStart) and event.channel.id in self._entered:
            self._entered[event.channel.id].set()
        observer = self._observers.get(event.channel_id or "")
        if observer is not None:
            observer(event)
