"""The loops' load (CPU share of their own threads) and the overload alarm."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time

import pytest

from voxtra.load import LoopLoad, OverloadAlarm
from voxtra.testing.load import busy_loop


async def test_loop_load_is_its_threads_cpu_share_not_the_processes() -> None:
    load = LoopLoad(interval=0.05, window=0.5)
    load.start()
    stop = threading.Event()

    def other_thread() -> None:  # a speech model's native code: not the loops' load
        data = bytes(1 << 20)
        while not stop.is_set():
            hashlib.sha256(data).digest()  # releases the GIL, as such code does

    spinner = threading.Thread(target=other_thread)
    spinner.start()
    try:
        await asyncio.sleep(1.5)
        idle = load.value
        cpu, wall = time.thread_time(), time.monotonic()
        await busy_loop(2.0, 0.6)
        share = (time.thread_time() - cpu) / (time.monotonic() - wall)  # what it got
        busy = load.value
    finally:
        stop.set()
        spinner.join()
        load.stop()
    assert idle < 0.2, idle
    assert share > 0.3 and abs(busy - share) < 0.15, (busy, share)


def test_the_alarm_warns_once_sustained_and_when_recovered(
        caplog: pytest.LogCaptureFixture) -> None:
    alarm = OverloadAlarm(overloaded=0.8, sustain=5.0, recovered=0.6)
    caplog.set_level(logging.WARNING, "voxtra.load")
    for second in range(5):  # at the threshold, not yet for long enough
        alarm.update(0.9, 40, float(second))
    alarm.update(0.5, 40, 5.0)  # a dip starts the count again
    for second in range(6, 11):
        alarm.update(0.85, 41, float(second))
    assert not alarm.active and not caplog.records
    alarm.update(0.85, 42, 11.0)
    assert alarm.active and alarm.episodes == 1
    assert "85 % of a core for 5 s (calls up: 42)" in caplog.records[0].getMessage()
    alarm.update(0.95, 42, 12.0)
    alarm.update(0.7, 42, 13.0)  # between the thresholds: still overloaded
    assert alarm.active and len(caplog.records) == 1
    alarm.update(0.4, 30, 14.0)
    assert not alarm.active and alarm.episodes == 1
    assert "no longer overloaded: 40 % of a core (calls up: 30)" in caplog.records[1].getMessage()
