"""Record the ARI events of a Stasis application and wait for particular ones (tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from voxtra.ari.client import AriClient
from voxtra.ari.events import EventStream
from voxtra.ari.model_base import Message


class EventLog:
    """The events of one Stasis application, with waiting helpers."""

    def __init__(self, client: AriClient, app_name: str) -> None:
        self.events: list[Message] = []
        self.stream = EventStream(client, app_name, self._on_event)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, event: Message) -> None:
        self.events.append(event)
        self._changed.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self.stream.run())
        await asyncio.wait_for(self.stream.connected.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def wait_for(self, type_: str, where: Callable[[Any], bool] = lambda e: True,
                       timeout: float = 10.0) -> Any:
        """The first event of ``type_`` matching ``where`` (already received or to come)."""
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if event.type == type_ and where(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()
