"""How fast a campaign dials: calls at once, and call starts per second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """At most ``concurrent`` dials under way, and their starts at least
    ``1 / calls_per_second`` apart (carriers reject or queue what comes faster)."""

    def __init__(self, concurrent: int, calls_per_second: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.concurrent = concurrent
        self.calls_per_second = calls_per_second
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrent)
        self._next_start = 0.0
        self.active = 0

    async def slot(self) -> None:
        """Wait for room for one more dial (give it back with :meth:`release`)."""
        await self._slots.acquire()
        self.active += 1

    async def start(self) -> None:
        """Wait for this dial's start: the next free one, taken before waiting, so dials
        waiting together start one interval apart."""
        now = self._clock()
        start = max(now, self._next_start)
        self._next_start = start + 1.0 / self.calls_per_second
        if start > now:
            await asyncio.sleep(start - now)

    def release(self) -> None:
        self.active -= 1
        self._slots.release()
