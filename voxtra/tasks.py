"""Tasks an owner starts and answers for: a call, a voice pipeline, the app.

asyncio keeps only weak references to tasks, and reports a failure nobody retrieved
only when the task is collected, if at all. A :class:`TaskSet` holds its tasks until
they are done, hands each failure to its owner (or logs it), and ends them together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class TaskSet:
    """The tasks one owner started."""

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        """``on_error`` gets the exception of each task that fails (a warning is logged
        when there is none); a cancelled task is no failure."""
        self._tasks: set[asyncio.Future[Any]] = set()
        self._on_error = on_error

    def spawn(self, work: Awaitable[T], name: str | None = None) -> asyncio.Future[T]:
        """Run ``work`` as one of the owner's tasks."""
        task = asyncio.ensure_future(work)
        if name is not None and isinstance(task, asyncio.Task):
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def join(self, timeout: float | None = None) -> None:
        """Wait for the tasks (those started meanwhile too); after ``timeout`` seconds
        stop what is left."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while tasks := self._others():
            left = None if deadline is None else max(0.0, deadline - loop.time())
            await asyncio.wait(tasks, timeout=left)
            if deadline is not None and loop.time() >= deadline:
                await self.close()
                return

    def cancel(self) -> None:
        """Cancel the tasks (not the one calling)."""
        for task in self._others():
            task.cancel()

    async def close(self) -> None:
        """Cancel the tasks and wait until they have stopped."""
        self.cancel()
        if tasks := self._others():
            await asyncio.wait(tasks)

    def _others(self) -> list[asyncio.Future[Any]]:
        current = asyncio.current_task()
        return [task for task in self._tasks if task is not current]

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        if self._on_error is not None:
            self._on_error(error)
        else:
            log.warning("background task %s failed: %r", _name(task), error)


def _name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)
