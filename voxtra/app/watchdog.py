"""Says when something blocks the event loop, and where.

Every call of a process shares one event loop: a handler that blocks it (``time.sleep``,
a synchronous HTTP client, heavy CPU work) delays every other call's events (and its
audio too, unless media runs on its own thread: :mod:`voxtra.media.thread`).
A heartbeat callback on the loop marks the time every ``interval``; a thread watches it,
and when the heartbeat is late by more than ``threshold`` it logs the code the loop is
running at that moment (from the loop thread's stack), once per blockage, and how long
the blockage lasted when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
import threading
import time
import traceback
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Frames from these directories are the machinery, not the code that blocks.
_MACHINERY = (os.path.dirname(asyncio.__file__), os.path.dirname(threading.__file__))
#: Frames outside these are the app's own code.
_LIBRARIES = tuple({sysconfig.get_paths()[name] for name in
                    ("stdlib", "platstdlib", "purelib", "platlib")}
                   | {os.path.dirname(__file__)})


@dataclass
class WatchdogStats:
    #: Blockages longer than the threshold, and the longest seen (seconds).
    blocked: int = 0
    longest: float = 0.0
    #: Where the latest blockage was: ``file:line in function``.
    last_culprit: str = ""


class LoopWatchdog:
    def __init__(self, threshold: float = 0.5, interval: float = 0.1) -> None:
        self.threshold = threshold
        self.interval = interval
        self.stats = WatchdogStats()
        self._beat = time.monotonic()
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching the running loop (call from it)."""
        loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stop.clear()
        self._heartbeat(loop)
        self._thread = threading.Thread(target=self._watch, name="voxtra-watchdog",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None

    def _heartbeat(self, loop: asyncio.AbstractEventLoop) -> None:
        self._beat = time.monotonic()
        self._handle = loop.call_later(self.interval, self._heartbeat, loop)

    def _watch(self) -> None:
        blocked_since: float | None = None
        while not self._stop.wait(self.interval / 2):
            late = time.monotonic() - self._beat - self.interval
            if late > self.threshold and blocked_since is None:
                blocked_since = self._beat + self.interval
                culprit = self._culprit()
                self.stats.blocked += 1
                self.stats.last_culprit = culprit
                log.warning("the event loop is blocked (%.1f s so far) in %s: every call "
                            "waits for it; run blocking code with asyncio.to_thread()",
                            late, culprit)
            elif late <= self.threshold / 2 and blocked_since is not None:
                lasted = self._beat - blocked_since
                self.stats.longest = max(self.stats.longest, lasted)
                log.warning("the event loop was blocked for %.1f s", lasted)
                blocked_since = None

    def _culprit(self) -> str:
        """Where the loop thread is: its innermost frame that is not asyncio's own, and
        the innermost frame of the app's own code that led there (a handler)."""
        frame = sys._current_frames().get(self._loop_thread)
        if frame is None:
            return "an unknown place"
        stack = [e for e in traceback.extract_stack(frame)
                 if not e.filename.startswith(_MACHINERY)]
        if not stack:
            return "asyncio itself"
        inner = stack[-1]
        where = f"{inner.name} ({inner.filename}:{inner.lineno})"
        own = next((e for e in reversed(stack) if not e.filename.startswith(_LIBRARIES)), None)
        if own is not None and own is not inner:
            where += f", called from {own.name} ({own.filename}:{own.lineno})"
        return where
