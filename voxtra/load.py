"""How busy the process's event loops are, and a warning before callers notice.

Every call's events and audio run on event loops (the app's, and the media thread's):
Python code that holds the GIL, so together they can use at most one core, whatever
the host has. :class:`LoopLoad` measures the CPU time of a loop's own thread
(``time.thread_time``) per wall time: speech models working in other threads (their
native code releases the GIL) do not count. :class:`OverloadAlarm` turns the sum of
those shares into a warning before audio suffers: at the media engine's zero-loss
capacity the loops read 0.9 (``bench/media_bench.py`` reports the load at each call
count), so a process that stays above :data:`OVERLOADED` for :data:`SUSTAIN` seconds
should get no more calls (``max_calls``) and another process should take them (one per
core).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: Share of a core above which the process is near its capacity...
OVERLOADED = 0.8
#: ...once it has stayed there this many seconds (a burst of work is not overload)...
SUSTAIN = 5.0
#: ...until it is below this share again.
RECOVERED = 0.6


class LoopLoad:
    """The share of one core used by an event loop's thread, averaged over about
    ``window`` seconds; sampled every ``interval`` seconds from :meth:`start`."""

    def __init__(self, interval: float = 0.1, window: float = 1.0, *,
                 cpu: Callable[[], float] = time.thread_time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``cpu`` and ``clock`` read the thread's CPU time and the wall time (tests give
        their own readings)."""
        self.interval = interval
        self.window = window
        self._cpu_time = cpu
        self._clock = clock
        #: 0 idle, 1 the thread used a whole core.
        self.value = 0.0
        self._cpu = 0.0
        self._wall = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start measuring the running loop (call from it)."""
        self._cpu, self._wall = self._cpu_time(), self._clock()
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._sample)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sample(self) -> None:
        self.sample()
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._sample)

    def sample(self) -> None:
        """Take a reading now (:meth:`start` does every ``interval``)."""
        cpu, wall = self._cpu_time(), self._clock()
        elapsed = wall - self._wall
        if elapsed > 0:
            busy = min((cpu - self._cpu) / elapsed, 1.0)
            # An average over ``window`` whatever the sampling delay (a blocked loop
            # samples late, and that sample then weighs what it covers).
            self.value += (busy - self.value) * (1 - math.exp(-elapsed / self.window))
        self._cpu, self._wall = cpu, wall


@dataclass
class OverloadAlarm:
    """Warns when the load has stayed at or above ``overloaded`` for ``sustain`` seconds,
    once per episode, and says when it has fallen below ``recovered``."""

    overloaded: float = OVERLOADED
    sustain: float = SUSTAIN
    recovered: float = RECOVERED
    #: Whether an episode is under way, and how many there have been.
    active: bool = field(default=False, init=False)
    episodes: int = field(default=0, init=False)
    #: Since when the load has been at or above ``overloaded``.
    _since: float | None = field(default=None, init=False)

    def update(self, load: float, calls: int, now: float) -> None:
        """Take the latest ``load`` (a share of a core) with ``calls`` up at ``now``."""
        if load < self.overloaded:
            self._since = None
        elif self._since is None:
            self._since = now
        if not self.active and self._since is not None and now - self._since >= self.sustain:
            self.active = True
            self.episodes += 1
            log.warning("overloaded: the event loops have used %.0f %% of a core for %.0f s "
                        "(calls up: %d); audio will soon be late and dropped: send new "
                        "calls to another process (max_calls, one process per core)",
                        100 * load, now - self._since, calls)
        elif self.active and load < self.recovered:
            self.active = False
            log.warning("no longer overloaded: %.0f %% of a core (calls up: %d)",
                        100 * load, calls)
