"""The media clock: one 20 ms tick per event loop drives every call's audio.

Instead of a task and a timer per call, one task wakes every 20 ms against absolute
deadlines (``start + n * 20 ms``, so timer error never accumulates) and runs two
phases: first every sender (each pacer sends its due frame), so frames leave at the
tick's instant whatever else the process is doing, then every receiver (jitter
buffers hand over what they released, waking each consumer once per tick). Audio a
consumer answers with goes out at the next tick: one frame of output buffering, the
price of an exact send schedule.

After a stall (the loop was blocked for longer than a frame) the schedule is
re-anchored at the present instead of catching up in a burst. How close the loops are
to their capacity is measured by :mod:`voxtra.load`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voxtra.media.audio import FRAME_MS

log = logging.getLogger(__name__)

FRAME = FRAME_MS / 1000
Phase = Callable[[float], None]


@dataclass
class ClockStats:
    ticks: int = 0
    #: Ticks more than a frame late: the schedule was re-anchored.
    stalls: int = 0
    #: The latest tick's lateness and the worst seen, in seconds.
    lateness: float = 0.0
    worst_lateness: float = 0.0
    #: Phases that raised (the first and every thousandth logged; the clock ticks on
    #: for every other call).
    failures: int = 0


class MediaClock:
    """Ticks while it has members; one per event loop (:meth:`current`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """``clock`` and ``sleep`` are the real ones but in tests of timing, which give
        their own (time that passes only when the clock sleeps, or when a test says)."""
        #: The clock's time in seconds.
        self.now = clock
        self._sleep = sleep
        self._receivers: dict[object, Phase] = {}
        self._senders: dict[object, Phase] = {}
        self._task: asyncio.Task[None] | None = None
        self.stats = ClockStats()

    @classmethod
    def current(cls) -> MediaClock:
        """The running loop's clock."""
        loop = asyncio.get_running_loop()
        clock = _CLOCKS.get(loop)
        if clock is None:
            clock = _CLOCKS[loop] = cls()
        return clock

    def add(self, owner: object, *, receive: Phase | None = None,
            send: Phase | None = None) -> None:
        """Run ``receive`` in the first phase and ``send`` in the second of every tick."""
        if receive is not None:
            self._receivers[owner] = receive
        if send is not None:
            self._senders[owner] = send
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="media-clock")

    def remove(self, owner: object) -> None:
        self._receivers.pop(owner, None)
        self._senders.pop(owner, None)

    @property
    def members(self) -> int:
        return len(self._receivers.keys() | self._senders.keys())

    async def _run(self) -> None:
        stats = self.stats
        deadline = self.now()
        while self._receivers or self._senders:
            now = self.now()
            if now < deadline:
                await self._sleep(deadline - now)
                now = self.now()
            stats.lateness = now - deadline
            stats.worst_lateness = max(stats.worst_lateness, stats.lateness)
            if stats.lateness > FRAME:
                stats.stalls += 1
                deadline = now
            stats.ticks += 1
            for phase in (*self._senders.values(), *self._receivers.values()):
                try:
                    phase(now)
                except Exception:
                    stats.failures += 1
                    if stats.failures % 1000 == 1:  # a phase failing every tick: not 50/s
                        log.exception("a media phase failed (%s; %d failures so far)",
                                      phase, stats.failures)
            _collect_between_ticks()
            deadline += FRAME
        self._task = None


def _collect_between_ticks() -> None:
    """Run the collector's middle generation now, just after a tick's work, when it is
    about to be due: left to itself it runs at any moment, and a collection that
    overlaps a tick delays every call's frame by its few milliseconds."""
    _, middle, _ = gc.get_count()
    if middle >= gc.get_threshold()[1] - 1:
        gc.collect(1)


_CLOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock] = \
    weakref.WeakKeyDictionary()
