"""Work that keeps the running event loop busy, to test what an app does under load
(``app.load``, the overload warning, ``max_load``)."""

from __future__ import annotations

import asyncio
import time


async def busy_loop(seconds: float, share: float) -> None:
    """Use about ``share`` of this thread's CPU for ``seconds`` of wall time, in 20 ms
    slices that give the loop back between them. The work is counted in CPU time, so a
    machine busy with other work cannot shrink it (the share the thread gets may)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        target = time.thread_time() + 0.02 * share
        while time.thread_time() < target:
            pass
        await asyncio.sleep(0.02 * (1 - share))
