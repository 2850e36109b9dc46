"""Send-side pacing: one 20 ms frame per tick against absolute monotonic deadlines.

Deadlines are ``start + n * 20 ms``, so timer error never accumulates. After an
event-loop stall the schedule is re-anchored at the present instead of sending
the backlog in a burst (a burst would arrive as a clump the far end must drop).
Each queued item may carry a mark that resolves when its last frame has been
sent (playout acknowledgement); :meth:`Pacer.flush` drops everything queued at
once (barge-in) and reports when the far end stops hearing audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from voxtra.media.audio import FRAME_MS

FRAME = FRAME_MS / 1000


@dataclass(slots=True)
class _Frame:
    payload: bytes
    mark: asyncio.Future[None]
    last: bool
    protected: bool


@dataclass
class PacerStats:
    sent: int = 0
    flushed: int = 0
    #: Times the schedule was re-anchored after falling more than a frame behind.
    stalls: int = 0
    #: With ``record_errors``: send-time error against the schedule, and send times
    #: (monotonic seconds), one entry per frame.
    errors: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


class Pacer:
    """Sends queued frames through ``send(payload, marker)`` at 50 frames per second."""

    def __init__(self, send: Callable[[bytes, bool], None], record_errors: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._clock = clock
        self._frames: deque[_Frame] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._talkspurt = True
        self._last_sent = 0.0
        self.record_errors = record_errors
        self.stats = PacerStats()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rtp-pacer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()

    def enqueue(self, frames: list[bytes], protected: bool = False) -> asyncio.Future[None]:
        """Queue frames; the returned future (the group's mark) resolves when the last
        one has been sent, or is cancelled if the group is dropped.

        ``protected`` frames survive :meth:`flush` (a prompt that must not be cut).
        """
        mark: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not frames:
            mark.set_result(None)
            return mark
        for index, payload in enumerate(frames):
            self._frames.append(_Frame(payload, mark, index == len(frames) - 1, protected))
        self._wakeup.set()
        return mark

    def cancel(self, mark: asyncio.Future[None]) -> None:
        """Drop the queued frames of one group (e.g. a playback that was cancelled)."""
        self._drop(lambda frame: frame.mark is mark)

    def flush(self) -> float:
        """Drop every queued frame that is not protected, now; return seconds until the
        far end hears silence (at most the one frame already on its way), or until the
        protected audio still queued has played."""
        self._drop(lambda frame: not frame.protected)
        tail = max(0.0, self._last_sent + FRAME - self._clock()) if self.stats.sent else 0.0
        return tail + len(self._frames) * FRAME

    def _drop(self, condition: Callable[[_Frame], bool]) -> None:
        kept: deque[_Frame] = deque()
        for frame in self._frames:
            if not condition(frame):
                kept.append(frame)
                continue
            self.stats.flushed += 1
            if not frame.mark.done():
                frame.mark.cancel()
        self._frames = kept
        if not kept:
            self._talkspurt = True

    async def _run(self) -> None:
        deadline = self._clock()
        while True:
            if not self._frames:
                self._wakeup.clear()
                await self._wakeup.wait()
                self._talkspurt = True
                deadline = self._clock()
            now = self._clock()
            if now < deadline:
                await asyncio.sleep(deadline - now)
                now = self._clock()
            if now - deadline > FRAME:  # a stall: re-anchor, do not burst the backlog
                self.stats.stalls += 1
                deadline = now
            if not self._frames:  # flushed while we slept
                continue
            frame = self._frames.popleft()
            self._send(frame.payload, self._talkspurt)
            self._talkspurt = False
            self._last_sent = now
            self.stats.sent += 1
            if self.record_errors:
                self.stats.errors.append(now - deadline)
                self.stats.times.append(now)
            if frame.last and not frame.mark.done():
                frame.mark.set_result(None)
            deadline += FRAME
