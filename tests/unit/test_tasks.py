"""TaskSet: the owner's tasks are held until done, their failures reported, and ended
together."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from voxtra.tasks import TaskSet


async def test_a_task_is_held_until_done_and_its_failure_reported() -> None:
    failures: list[BaseException] = []
    tasks = TaskSet(failures.append)
    ran = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.01)
        ran.set()

    async def fail() -> None:
        raise ValueError("broken")

    tasks.spawn(work())
    tasks.spawn(fail())
    gc.collect()  # asyncio alone keeps only weak references to tasks
    assert len(tasks) == 2
    await tasks.join()
    assert ran.is_set() and len(tasks) == 0
    assert [type(e) for e in failures] == [ValueError]


async def test_without_an_owner_hook_a_failure_is_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    async def fail() -> None:
        raise KeyError("gone")

    tasks = TaskSet()
    with caplog.at_level(logging.WARNING, logger="voxtra.tasks"):
        tasks.spawn(fail(), name="lookup")
        await tasks.join()
    assert "lookup" in caplog.text and "KeyError" in caplog.text


async def test_join_waits_for_tasks_started_meanwhile_and_stops_what_outlives_its_timeout(
        ) -> None:
    tasks = TaskSet()
    order: list[str] = []

    async def second() -> None:
        order.append("second")

    async def first() -> None:
        await asyncio.sleep(0.01)
        tasks.spawn(second())
        order.append("first")

    tasks.spawn(first())
    await tasks.join()
    assert order == ["first", "second"]
    forever = tasks.spawn(asyncio.sleep(3600))
    await asyncio.wait_for(tasks.join(timeout=0.05), 2)
    assert forever.cancelled() and len(tasks) == 0


async def test_close_from_inside_one_of_its_tasks_stops_the_others() -> None:
    tasks = TaskSet()
    other = tasks.spawn(asyncio.sleep(3600))

    async def closer() -> None:
        await tasks.close()  # must not wait for itself

    await asyncio.wait_for(tasks.spawn(closer()), 2)
    assert other.cancelled()
