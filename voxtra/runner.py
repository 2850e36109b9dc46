"""Runs Voxtra's entry points on uvloop when it is installed (``voxtra-asterisk[speed]``), else on
asyncio's own loop; uvloop's faster socket and callback handling raises the number of
calls a process carries (see ``bench/media_bench.py``). The garbage collector is tuned
for media first (:func:`tune_gc`)."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory if uvloop is installed, else None (asyncio's default)."""
    if importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop

    return uvloop.new_event_loop


#: The collector's thresholds for a media process; CPython's default is (700, 10, 10).
GC_THRESHOLDS = (700, 100, 10)


def tune_gc() -> None:
    """Collect the middle generation ten times less often.

    A call's audio makes short-lived objects (a frame's playout, a consumer's wake-up)
    that live about one 20 ms tick. With the default thresholds many of them are
    promoted to the oldest generation, whose full collections then stall the process
    for 20-30 ms with a thousand calls up: every call's audio misses a tick. Collected
    less often, the middle generation lets them die young (and stays cheap, since
    objects freed by reference counting leave it at once). Apps that run their own
    loop call this once at startup.
    """
    gc.set_threshold(*GC_THRESHOLDS)


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the fastest loop available, with :func:`tune_gc`."""
    tune_gc()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
