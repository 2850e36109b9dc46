"""The watchdog names the code that blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from voxtra.app.watchdog import LoopWatchdog


def look_up_the_customer_synchronously() -> None:
    time.sleep(0.8)  # a blocking call in a handler


async def test_a_blocked_loop_is_reported_with_the_code_that_blocks_it(
        caplog: pytest.LogCaptureFixture) -> None:
    watchdog = LoopWatchdog(threshold=0.3, interval=0.05)
    watching = time.monotonic()
    watchdog.start()
    try:
        await asyncio.sleep(0.2)
        assert watchdog.stats.blocked == 0  # an idle loop is not blocked
        with caplog.at_level(logging.WARNING, logger="voxtra.app.watchdog"):
            began = time.monotonic()
            look_up_the_customer_synchronously()
            ended = time.monotonic()
            async with asyncio.timeout(5):  # until the watchdog has seen the loop beat again
                while watchdog.stats.longest == 0 or "blocked for" not in caplog.text:
                    await asyncio.sleep(0.01)
            seen = time.monotonic()
    finally:
        watchdog.stop()
    assert watchdog.stats.blocked == 1
    assert "look_up_the_customer_synchronously" in watchdog.stats.last_culprit
    # The blockage ran from the heartbeat due after the last one before it (at most an
    # interval after it began) to the first one after it; neither before the watch began
    # nor after the test saw the report.
    interval = watchdog.interval
    assert ended - began - interval <= watchdog.stats.longest <= seen - watching - interval
    assert "asyncio.to_thread" in caplog.text and "blocked for" in caplog.text
