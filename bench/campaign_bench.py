"""Outbound campaigns: what the durable store costs per dial, and how fast a campaign
dials through a real Asterisk.

    .venv/bin/python bench/campaign_bench.py [--attempts 2000] [--rates 10,20,30,40]
        [--contacts 300] [--skip-originate]

1. Store: ``--attempts`` dials written as a campaign writes them (claim with its start
   slot, answered, finished), one after the other, in SQLite (a file in a temporary
   directory) and in PostgreSQL (a throwaway cluster of Debian's server, over loopback);
   beside them, in the same run, the bare reference: one ``UPDATE`` of one row per dial
   in each database. Reported: ms per dial and the ratio to the reference.
2. Originate: a campaign of ``--contacts`` contacts dialled through a sandbox Asterisk
   to a SIPp callee that answers 486 (busy) at once, at each ``--rates`` calls per
   second with 50 at once: the rate reached (dials / seconds from the first channel to
   the last, on Asterisk's clock, seen from Asterisk's side) and failures (outcomes
   other than busy).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import socket
import sqlite3
import tempfile
import time
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from voxtra.app import VoxtraApp
from voxtra.outbound import (
    CallingWindow,
    Campaign,
    CampaignStore,
    Contact,
    RetryPolicy,
    SqliteStore,
)
from voxtra.outbound.postgres import PostgresStore
from voxtra.outbound.store import Limits
from voxtra.sandbox.asterisk import AsteriskSandbox, SandboxOptions
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.postgres import ThrowawayPostgres
from voxtra.sandbox.scenarios import CalleeScript
from voxtra.sandbox.sipp import SipCallee
from voxtra.settings import VoxtraSettings
from voxtra.testing.watch import AsteriskWatch

LIMITS = Limits(max_concurrent=10**6, calls_per_second=10**6)


async def store_cost(store: CampaignStore, attempts: int) -> float:
    """Seconds per dial written as a campaign writes it."""
    await store.open()
    try:
        await store.add([Contact(str(10**6 + n)) for n in range(attempts)], now=0)
        began = time.perf_counter()
        for n in range(attempts):
            claim = await store.claim(str(10**6 + n), f"chan-{n}", "bench", 1.0, 60, LIMITS)
            assert claim is not None
            await store.answered(claim, 2.0)
            await store.finish(claim, "answered", 3.0, retry_at=None, result="ok")
        return (time.perf_counter() - began) / attempts
    finally:
        await store.close()


def sqlite_reference(path: Path, attempts: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v INTEGER)")
    db.executemany("INSERT INTO t VALUES (?, 0)", [(n,) for n in range(attempts)])
    began = time.perf_counter()
    for n in range(attempts):
        db.execute("UPDATE t SET v = 1 WHERE n = ?", (n,))
    spent = (time.perf_counter() - began) / attempts
    db.close()
    return spent


async def postgres_reference(dsn: str, attempts: int) -> float:
    import asyncpg  # type: ignore[import-untyped]

    db = await asyncpg.connect(dsn)
    await db.execute("CREATE TABLE bench_t (n INTEGER PRIMARY KEY, v INTEGER)")
    await db.executemany("INSERT INTO bench_t VALUES ($1, 0)", [(n,) for n in range(attempts)])
    began = time.perf_counter()
    for n in range(attempts):
        await db.execute("UPDATE bench_t SET v = 1 WHERE n = $1", n)
    spent = (time.perf_counter() - began) / attempts
    await db.close()
    return spent


async def bench_store(attempts: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await store_cost(SqliteStore(Path(tmp) / "c.db"), attempts)
        reference = sqlite_reference(Path(tmp) / "ref.db", attempts)
    figures["sqlite"] = {"ms_per_dial": round(sqlite * 1000, 3),
                         "reference_ms": round(reference * 1000, 3),
                         "ratio": round(sqlite / reference, 1)}
    with ThrowawayPostgres() as dsn:
        postgres = await store_cost(PostgresStore(dsn, "bench"), attempts)
        reference = await postgres_reference(dsn, attempts)
    figures["postgres"] = {"ms_per_dial": round(postgres * 1000, 3),
                           "reference_ms": round(reference * 1000, 3),
                           "ratio": round(postgres / reference, 1)}
    return figures


async def bench_originate(settings: VoxtraSettings, rate: float, contacts: int
                          ) -> dict[str, Any]:
    busy = SipCallee(CalleeScript("busy"), calls=contacts)
    await busy.start(timeout=600)
    app = VoxtraApp(settings)
    with tempfile.TemporaryDirectory() as tmp:
        campaign = Campaign(
            app, [Contact(str(10**6 + n), {"port": str(busy.port)}) for n in range(contacts)],
            lambda call: call.hangup(), dial="PJSIP/loopback/sip:{number}@127.0.0.1:{port}",
            window=CallingWindow(start=clock_time(0), end=clock_time(23, 59, 59, 999999)),
            max_concurrent=50, calls_per_second=rate, ring_timeout=10,
            retry=RetryPolicy(busy=None), store=Path(tmp) / "c.db")
        async with AsteriskWatch(settings, "voxtra-campaign-") as watch, app:
            counts = await campaign.run()
            await asyncio.sleep(1)
    await busy.stop()
    starts = sorted(watch.created.values())
    span = starts[-1] - starts[0] if len(starts) > 1 else float("nan")
    return {"asked_per_second": rate, "dials": len(starts),
            "reached_per_second": round((len(starts) - 1) / span, 1),
            "min_gap_ms": round(1000 * min(b - a for a, b in itertools.pairwise(starts)), 1),
            "failures": contacts - counts.get("busy", 0), "counts": counts}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--rates", default="10,20,30,40")
    parser.add_argument("--contacts", type=int, default=300)
    parser.add_argument("--skip-originate", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print("store:", json.dumps(await bench_store(args.attempts), indent=1), flush=True)
    if args.skip_originate:
        return
    sandbox = AsteriskSandbox(SandboxOptions(
        name="bench", ari_port=free_port(socket.SOCK_STREAM),
        sip_port=free_port(socket.SOCK_DGRAM)))
    state = sandbox.start()
    settings = VoxtraSettings(ari_url=state.ari_url, ari_user=state.ari_user,
                              ari_password=SecretStr(state.ari_password),
                              app_name=state.app_name)
    try:
        for rate in (float(r) for r in args.rates.split(",")):
            figures = await bench_originate(settings, rate, args.contacts)
            print("originate:", json.dumps(figures), flush=True)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    asyncio.run(main())
