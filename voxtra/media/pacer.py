"""Send-side pacing: one 20 ms frame per tick of the process's media clock.

Each pacer sends at most one frame per tick of :class:`~voxtra.media.clock.MediaClock`,
so frames of a call leave 20 ms apart on the clock's absolute schedule, and after an
event-loop stall the clock re-anchors instead of letting the backlog out in a burst
(a burst would arrive as a clump the far end must drop). The first frame of a
talkspurt goes out at once rather than waiting for the next tick. Each frame has a
due time (its slot in the schedule when it was queued); a frame that could not be
sent within ``max_lag`` of it is dropped and counted, so an overloaded process
loses audio instead of building up delay. Each queued group of frames is a
:class:`Playout` that counts its frames as they are sent and resolves when its last
one has gone (playout acknowledgement); :meth:`Pacer.clear` drops everything queued
at once (barge-in) and reports when the far end stops hearing audio.
:meth:`Pacer.pause` holds the queue instead, so that :meth:`Pacer.resume` plays it
on from the frame where it stopped (the caller's sound turned out not to be an
interruption).
"""

from __future__ import annotations

import asyncio
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from voxtra.media.audio import Pcm
from voxtra.media.clock import FRAME, MediaClock
from voxtra.media.thread import call_in, settle

#: A queued frame: encoded bytes, or PCM its sender encodes when it goes out.
Payload = bytes | Pcm
P = TypeVar("P")

#: A frame that could not be sent within this many seconds of its due time is dropped.
MAX_LAG = 0.1


class Playout:
    """One group of queued frames: how far it has been sent, and futures that resolve
    when its first frame has gone (``started``) and its last (``done``); both are
    cancelled if the group was dropped. The futures are made only when asked for
    (most audio is never waited on)."""

    __slots__ = ("_done", "_ended", "_started", "frames", "late", "protected", "sent",
                 "started_at")

    def __init__(self, frames: int, protected: bool = False) -> None:
        self.frames = frames
        #: Survives :meth:`Pacer.clear` (a prompt that must not be cut).
        self.protected = protected
        #: Frames sent so far, and when the first one was sent (monotonic seconds).
        self.sent = 0
        #: Frames dropped because they were too late to be worth sending.
        self.late = 0
        self.started_at: float | None = None
        self._started: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None
        #: None while queued, then "done" or "cancelled".
        self._ended: str | None = None if frames else "done"

    @property
    def started(self) -> asyncio.Future[None]:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            if self.started_at is not None:
                self._started.set_result(None)
            elif self._ended == "cancelled":
                self._started.cancel()
        return self._started

    @property
    def done(self) -> asyncio.Future[None]:
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
            if self._ended == "done":
                self._done.set_result(None)
            elif self._ended == "cancelled":
                self._done.cancel()
        return self._done

    @property
    def seconds_sent(self) -> float:
        return self.sent * FRAME

    @property
    def reached(self) -> int:
        """Frames playback has got past: sent, or dropped as too late (the far end heard
        on around those)."""
        return self.sent + self.late

    def _frame_sent(self, now: float) -> None:
        self.sent += 1
        if self.started_at is None:
            self.started_at = now
            if self._started is not None:
                settle(self._started)
        self._settle()

    def _frame_late(self) -> None:
        self.late += 1
        self._settle()

    def _settle(self) -> None:
        if self.sent + self.late == self.frames and self._ended is None:  # per frame: inline
            self._ended = "done"
            if self._done is not None:
                settle(self._done)

    def _cancel(self) -> None:
        if self._ended is None:
            self._ended = "cancelled"
        for future in (self._started, self._done):
            if future is not None:
                settle(future, cancel=True)


@dataclass
class PacerStats:
    sent: int = 0
    cleared: int = 0
    #: Frames dropped because they could not be sent within ``max_lag`` of their due time.
    late: int = 0
    #: With ``record_errors``: send-time error against the due time, and send times
    #: (monotonic seconds), one entry per frame (arrays: nothing for the GC to scan).
    errors: array[float] = field(default_factory=lambda: array("d"))
    times: array[float] = field(default_factory=lambda: array("d"))


class Pacer(Generic[P]):
    """Sends queued frames through ``send(payload, marker)`` at 50 frames per second,
    on the running loop's media clock from :meth:`start` to :meth:`stop`.

    Audio may be queued, cleared and waited for from another thread than the clock's
    (:mod:`voxtra.media.thread`): the queue is guarded by a lock, and a talkspurt's
    first frame is sent on the clock's loop."""

    def __init__(self, send: Callable[[P, bool], None], record_errors: bool = False,
                 max_lag: float = MAX_LAG) -> None:
        self._send: Callable[[P, bool], None] = send
        # The queue, one entry per frame in each: payload, due time, and its playout
        # (parallel deques, so queueing a frame allocates no object).
        self._payloads: deque[P] = deque()
        self._dues: deque[float] = deque()
        self._owners: deque[Playout] = deque()
        self._clock: MediaClock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._talkspurt = True
        self._last_sent = -1.0
        #: When :meth:`pause` held the queue (None: not paused).
        self._paused_at: float | None = None
        self.max_lag = max_lag
        self.record_errors = record_errors
        self.stats = PacerStats()

    def start(self, own_phase: bool = True, clock: MediaClock | None = None) -> None:
        """Pace on ``clock`` (the running loop's by default); with ``own_phase=False`` the
        owner calls :meth:`tick` in its own send phase (to handle many pacers' frames
        together)."""
        if self._clock is None:
            self._clock = clock or MediaClock.current()
            self._loop = asyncio.get_running_loop()
            if own_phase:
                self._clock.add(self, send=self.tick)

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.remove(self)
            self._clock = self._loop = None
        self.clear()

    def _now(self) -> float:
        clock = self._clock  # stop() may clear it meanwhile, on the clock's thread
        return clock.now() if clock is not None else time.monotonic()

    def enqueue(self, frames: Sequence[P], protected: bool = False) -> Playout:
        """Queue frames as one :class:`Playout`.

        ``protected`` frames survive :meth:`clear` (a prompt that must not be cut).
        """
        playout = Playout(len(frames), protected)
        if not frames:
            return playout
        with self._lock:
            now = self._now()
            dues, owners = self._dues, self._owners
            idle = not dues
            due = now if idle else max(now, dues[-1] + FRAME)
            self._payloads.extend(frames)
            for _ in frames:
                dues.append(due)
                owners.append(playout)
                due += FRAME
            starts = idle and now - self._last_sent >= 1.5 * FRAME
            if starts:
                self._talkspurt = True
        if starts and self._loop is not None:
            # A new talkspurt starts now, not at the next tick.
            call_in(self._loop, self._start_talkspurt)
        return playout

    def _start_talkspurt(self) -> None:
        if self._clock is not None:
            self.tick(self._now())

    @property
    def queued(self) -> float:
        """Seconds of audio queued and not yet sent."""
        return len(self._dues) * FRAME

    async def wait_for_playout(self) -> None:
        """Return once everything queued now has been sent (or dropped)."""
        with self._lock:
            last = self._owners[-1] if self._owners else None
        if last is not None:
            await asyncio.wait([last.done])

    def cancel(self, playout: Playout) -> None:
        """Drop the queued frames of one playout (e.g. a playback that was cancelled)."""
        with self._lock:
            self._drop(lambda owner: owner is playout)

    def clear(self) -> float:
        """Drop every queued frame that is not protected, now, and lift a pause; return
        seconds until the far end hears silence (at most the one frame already on its
        way), or until the protected audio still queued has played."""
        with self._lock:
            self._drop(lambda owner: not owner.protected)
            if self._paused_at is not None:
                self._unpause()
            return self._tail() + len(self._dues) * FRAME

    def _tail(self) -> float:
        """Seconds until the frame already on its way has played."""
        return max(0.0, self._last_sent + FRAME - self._now()) if self.stats.sent else 0.0

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> float:
        """Stop sending and keep the queue (protected frames wait too); seconds until
        the far end hears silence."""
        with self._lock:
            if self._paused_at is None:
                self._paused_at = self._now()
            return self._tail()

    def resume(self) -> None:
        """Play on from the frame where :meth:`pause` stopped, as a new talkspurt."""
        with self._lock:
            if self._paused_at is None:
                return
            self._unpause()
            starts = bool(self._dues)
        if starts and self._loop is not None:
            call_in(self._loop, self._start_talkspurt)

    def _unpause(self) -> None:
        """The queue's due times move on by the pause (nothing in it is late for it)."""
        assert self._paused_at is not None
        held = self._now() - self._paused_at
        self._paused_at = None
        self._dues = deque(due + held for due in self._dues)
        self._talkspurt = True

    def _drop(self, condition: Callable[[Playout], bool]) -> None:
        """Drop the queued frames whose playout meets ``condition``."""
        payloads: deque[P] = deque()
        dues: deque[float] = deque()
        owners: deque[Playout] = deque()
        for payload, due, owner in zip(self._payloads, self._dues, self._owners, strict=True):
            if condition(owner):
                self.stats.cleared += 1
                owner._cancel()
            else:
                payloads.append(payload)
                dues.append(due)
                owners.append(owner)
        self._payloads, self._dues, self._owners = payloads, dues, owners
        if not dues:
            self._talkspurt = True

    def tick(self, now: float) -> None:
        """The clock's send phase: send the next frame (:meth:`next_frame`) through
        ``send``."""
        frame = self.next_frame(now)
        if frame is not None:
            self._send(*frame)

    def next_frame(self, now: float) -> tuple[P, bool] | None:
        """The frame due now and whether it starts a talkspurt (the RTP marker), taken
        off the queue; None if nothing is due, the queue is paused, or a frame left less
        than half a frame ago (the first of a talkspurt, sent between ticks). Frames
        too late to be worth hearing are dropped and counted on the way."""
        with self._lock:
            if not self._dues or now - self._last_sent < FRAME / 2 or self._paused_at is not None:
                return None
            dues, payloads, owners = self._dues, self._payloads, self._owners
            stats = self.stats
            while dues and now - dues[0] > self.max_lag and not owners[0].protected:
                dues.popleft()  # too late to be worth hearing
                payloads.popleft()
                owners.popleft()._frame_late()
                stats.late += 1
            if not dues:
                return None
            due, payload, owner = dues.popleft(), payloads.popleft(), owners.popleft()
            marker, self._talkspurt = self._talkspurt, not dues
            self._last_sent = now
            stats.sent += 1
            if self.record_errors:
                stats.errors.append(now - due)
                stats.times.append(now)
            owner._frame_sent(now)
            return payload, marker
