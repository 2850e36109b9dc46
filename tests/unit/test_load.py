"""The loops' load (CPU share of their own threads) and the overload alarm."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import threading
import time

import pytest

from voxtra.load import LoopLoad, OverloadAlarm
from voxtra.sandbox.load import busy_loop


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
        cpu, process, wall = time.thread_time(), time.process_time(), time.monotonic()
        await asyncio.sleep(1.5)
        elapsed = time.monotonic() - wall
        idle = load.value
        own = (time.thread_time() - cpu) / elapsed  # what the loop's thread used
        everyone = (time.process_time() - process) / elapsed  # the spinner's share too
        busy_from = load.value
        await busy_loop(0.5, 0.6)
        busy = load.value
    finally:
        stop.set()
        spinner.join()
        load.stop()
    # An idle loop reads as idle while another thread spins: the reading is closer to
    # the loop thread's own share than to the process's (which the spinner fills).
    assert 0 <= idle < 0.2, idle  # the loop's thread only woke to sample, on any machine
    assert abs(idle - own) < abs(idle - everyone), (idle, own, everyone)
    assert busy > busy_from, (busy_from, busy)  # the loop's own work does count


def test_loop_load_is_an_average_of_the_readings_over_its_window() -> None:
    """Readings given by the test: the value is the thread's CPU per wall second,
    averaged over ``window`` seconds whatever the sampling, and capped at one core."""
    readings = {"cpu": 0.0, "wall": 0.0}
    load = LoopLoad(interval=0.1, window=0.5, cpu=lambda: readings["cpu"],
                    clock=lambda: readings["wall"])

    def run(seconds: float, share: float, samples: int) -> float:
        for _ in range(samples):
            readings["cpu"] += share * seconds / samples
            readings["wall"] += seconds / samples
            load.sample()
        return load.value

    load.sample()  # the first reading: nothing has elapsed yet
    assert load.value == 0.0
    assert run(1.0, 0.0, 10) == 0.0  # idle
    # 60 % of a core for 2 s: four windows, so within exp(-4) of the share.
    assert run(2.0, 0.6, 20) == pytest.approx(0.6 * (1 - math.exp(-4)))
    load.sample()  # no time has passed since the last reading: nothing to average
    assert load.value == pytest.approx(0.6 * (1 - math.exp(-4)))
    # A late sample (the loop was blocked) weighs what it covers: one reading of 1 s
    # moves the value as ten readings of 0.1 s would.
    before = load.value
    late = run(1.0, 1.0, 1)
    load.value = before
    assert run(1.0, 1.0, 10) == pytest.approx(late)
    assert late == pytest.approx(1 - (1 - before) * math.exp(-2))
    # More CPU than wall time (readings of two clocks) is one whole core, not more.
    load.value = 0.0
    assert run(10.0, 1.5, 100) == pytest.approx(1.0, abs=1e-6)
    assert load.value <= 1.0


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
