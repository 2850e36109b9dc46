"""Send-side pacing: one 20 ms frame per tick against absolute monotonic deadlines.

Deadlines are ``start + n * 20 ms``, so timer error never accumulates. After an
event-loop stall the schedule is re-anchored at the present instead of sending
the backlog in a burst (a burst would arrive as a clump the far end must drop).
Each queued group of frames is a :class:`Playout` that counts its frames as they
are sent and resolves when its last one has gone (playout acknowledgement);
:meth:`Pacer.clear` drops everything queued at once (barge-in) and reports when
the far end stops hearing audio.
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


class Playout:
    """One group of queued frames: how far it has been sent, and futures that resolve
    when its first frame has gone (``started``) and its last (``done``); ``done`` is
    cancelled if the group was dropped."""

    __slots__ = ("done", "frames", "sent", "started", "started_at")

    def __init__(self, frames: int) -> None:
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.frames = frames
        #: Frames sent so far, and when the first one was sent (monotonic seconds).
        self.sent = 0
        self.started_at: float | None = None
        if not frames:
            self.done.set_result(None)

    @property
    def seconds_sent(self) -> float:
        return self.sent * FRAME


@dataclass(slots=True)
class _Frame:
    payload: bytes
    playout: Playout
    protected: bool


@dataclass
class PacerStats:
    sent: int = 0
    cleared: int = 0
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
        self.clear()

    def enqueue(self, frames: list[bytes], protected: bool = False) -> Playout:
        """Queue frames as one :class:`Playout`.

        ``protected`` frames survive :meth:`clear` (a prompt that must not be cut).
        """
        playout = Playout(len(frames))
        self._frames.extend(_Frame(payload, playout, protected) for payload in frames)
        if frames:
            self._wakeup.set()
        return playout

    @property
    def queued(self) -> float:
        """Seconds of audio queued and not yet sent."""
        return len(self._frames) * FRAME

    async def wait_for_playout(self) -> None:
        """Return once everything queued now has been sent (or dropped)."""
        if self._frames:
            await asyncio.wait([self._frames[-1].playout.done])

    def cancel(self, playout: Playout) -> None:
        """Drop the queued frames of one playout (e.g. a playback that was cancelled)."""
        self._drop(lambda frame: frame.playout is playout)

    def clear(self) -> float:
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
            self.stats.cleared += 1
            for future in (frame.playout.started, frame.playout.done):
                if not future.done():
                    future.cancel()
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
            if not self._frames:  # cleared while we slept
                continue
            frame = self._frames.popleft()
            self._send(frame.payload, self._talkspurt)
            self._talkspurt = False
            self._last_sent = now
            self.stats.sent += 1
            if self.record_errors:
                self.stats.errors.append(now - deadline)
                self.stats.times.append(now)
            playout = frame.playout
            if playout.started_at is None:
                playout.started_at = now
                playout.started.set_result(None)
            playout.sent += 1
            if playout.sent == playout.frames and not playout.done.done():
                playout.done.set_result(None)
            deadline += FRAME
