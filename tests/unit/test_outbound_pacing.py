"""The campaign pacer: dial starts one interval apart, however many wait together."""

from __future__ import annotations

import asyncio

import pytest

from voxtra.outbound import pacing
from voxtra.outbound.pacing import Pacer


async def test_dials_waiting_together_start_one_interval_apart(
        monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(pacing.asyncio, "sleep", sleep)
    pacer = Pacer(concurrent=5, calls_per_second=20, clock=lambda: 100.0)
    for _ in range(5):
        await pacer.slot()
    await asyncio.gather(*(pacer.start() for _ in range(5)))
    assert waits == pytest.approx([0.05, 0.10, 0.15, 0.20])  # the first starts at once
    assert pacer.active == 5


async def test_no_more_than_the_concurrent_dials_hold_a_slot() -> None:
    pacer = Pacer(concurrent=2, calls_per_second=1000)
    await pacer.slot()
    await pacer.slot()
    third = asyncio.ensure_future(pacer.slot())
    await asyncio.sleep(0.05)
    assert not third.done()
    pacer.release()
    await asyncio.wait_for(third, 1)
    assert pacer.active == 2
