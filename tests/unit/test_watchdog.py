"""The watchdog names the code that blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from voxtra.watchdog import LoopWatchdog


def look_up_the_customer_synchronously() -> None:
    time.sleep(0.8)  # a blocking call in a handler


async def test_a_blocked_loop_is_reported_with_the_code_that_blocks_it(
        caplog: pytest.LogCaptureFixture) -> None:
    watchdog = LoopWatchdog(threshold=0.3, interval=0.05)
    watchdog.start()
    try:
        await asyncio.sleep(0.2)
        assert watchdog.stats.blocked == 0  # an idle loop is not blocked
        with caplog.at_level(logging.WARNING, logger="voxtra.watchdog"):
            look_up_the_customer_synchronously()
            await asyncio.sleep(0.3)
    finally:
        watchdog.stop()
    assert watchdog.stats.blocked == 1
    assert "look_up_the_customer_synchronously" in watchdog.stats.last_culprit
    assert 0.6 < watchdog.stats.longest < 1.5
    assert "asyncio.to_thread" in caplog.text and "blocked for" in caplog.text
