"""The media plane's own thread: RTP sockets and the media clock on an event loop of
their own.

Every handler of a process shares the app's event loop; one that blocks it
(``time.sleep``, a synchronous client, heavy CPU work) would otherwise stop the audio
of every call for as long. On their own thread the sockets keep receiving and the
clock keeps sending queued audio on time while the app's loop is stuck; the GIL is
released by such blocking calls, and handed over every few milliseconds by busy
Python code (``sys.getswitchinterval``).

What crosses between the loops is small and batched: received audio goes to the app's
loop once per tick for all calls, queued audio is handed over under a per-pacer lock,
and futures are resolved on the loop that owns them (:func:`settle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from voxtra.load import LoopLoad

T = TypeVar("T")


class MediaThread:
    """A thread running an event loop for media, started on first use."""

    def __init__(self, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
                 name: str = "voxtra-media") -> None:
        self._factory = loop_factory or asyncio.new_event_loop
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: The share of a core the media loop uses (while it runs).
        self.load = LoopLoad()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The media loop (its thread is started if it is not running)."""
        with self._lock:
            if self._loop is None:
                loop = self._factory()
                ready = threading.Event()
                thread = threading.Thread(target=self._serve, args=(loop, ready, self.load),
                                          name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event,
               load: LoopLoad) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(load.start)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
            load.stop()
            tasks = asyncio.all_tasks(loop)  # the clock, idle or not: ended here
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        finally:
            loop.close()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the media loop; await its result from the calling loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))

    def stop(self) -> None:
        """Stop the loop (its tasks are cancelled) and join the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):  # already closed
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)


def call_in(loop: asyncio.AbstractEventLoop, callback: Callable[..., None],
            *args: Any) -> None:
    """Run ``callback`` on ``loop``: at once when that is the running loop (or none is
    running, in synchronous code), else scheduled there from this thread. A loop that
    has closed meanwhile (its app ended) is skipped."""
    if asyncio._get_running_loop() in (loop, None):
        callback(*args)
    else:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, *args)


def settle(future: asyncio.Future[None], cancel: bool = False) -> None:
    """Resolve (or cancel) ``future`` from any thread, on its own loop; once only."""
    call_in(future.get_loop(), _settle_now, future, cancel)


def _settle_now(future: asyncio.Future[None], cancel: bool) -> None:
    if not future.done():
        if cancel:
            future.cancel()
        else:
            future.set_result(None)
