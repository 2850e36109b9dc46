"""A campaign in a process of its own, for the kill and the two-worker tests
(``test_campaign.py``).

    python campaign_worker.py PLAN.json

The plan names the contacts (number, port), the dial string and the store: ``store``,
an SQLite path, or ``dsn`` and ``campaign`` for PostgreSQL; optionally ``worker`` (a
name), ``lease``, ``max_concurrent`` and ``calls_per_second``. ARI comes from
``VOXTRA_*``. Each answered call is held ``hold`` seconds (0.5), then hung up by the
handler. Prints the counts at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import time
from pathlib import Path
from typing import Any

from voxtra import CallSession, VoxtraApp
from voxtra.outbound import CallingWindow, Campaign, CampaignStore, Contact, Retry, RetryPolicy
from voxtra.outbound.postgres import PostgresStore


async def main(plan: dict[str, Any]) -> None:
    async def hold(call: CallSession) -> str:
        await asyncio.sleep(plan.get("hold", 0.5))
        await call.hangup()
        return "held"

    app = VoxtraApp()
    contacts = [Contact(c["number"], {"port": c["port"]}) for c in plan["contacts"]]
    store: CampaignStore | str = PostgresStore(plan["dsn"], plan["campaign"]) \
        if "dsn" in plan else plan["store"]
    campaign = Campaign(
        app, contacts, hold, dial=plan["dial"], store=store, worker=plan.get("worker"),
        window=CallingWindow(start=time(0), end=time(23, 59, 59, 999999)),
        max_concurrent=plan.get("max_concurrent", 3),
        calls_per_second=plan.get("calls_per_second", 5), ring_timeout=1,
        lease=plan.get("lease", 5),
        retry=RetryPolicy(busy=Retry(attempts=2, delay=0.2),
                          no_answer=Retry(attempts=2, delay=0.2),
                          interrupted=Retry(attempts=20, delay=0.1, backoff=1)))
    async with app:
        counts = await campaign.run()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
