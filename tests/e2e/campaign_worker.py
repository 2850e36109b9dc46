"""A campaign in a process of its own, for the kill test (``test_campaign.py``).

    python campaign_worker.py PLAN.json

The plan names the store, the contacts (number, port, name) and the dial string; ARI
comes from ``VOXTRA_*``. Each answered call is held 0.5 s, then hung up by the handler.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import time
from pathlib import Path

from voxtra import CallSession, VoxtraApp
from voxtra.outbound import CallingWindow, Campaign, Contact, Retry, RetryPolicy


async def hold(call: CallSession) -> str:
    await asyncio.sleep(0.5)
    await call.hangup()
    return "held"


async def main(plan: dict[str, object]) -> None:
    app = VoxtraApp()
    contacts = [Contact(c["number"], {"port": c["port"]}) for c in plan["contacts"]]  # type: ignore[attr-defined]
    campaign = Campaign(
        app, contacts, hold, dial=str(plan["dial"]), store=str(plan["store"]),
        window=CallingWindow(start=time(0), end=time(23, 59, 59, 999999)),
        max_concurrent=3, calls_per_second=5, ring_timeout=1, lease=5,
        retry=RetryPolicy(busy=Retry(attempts=2, delay=0.2),
                          no_answer=Retry(attempts=2, delay=0.2),
                          interrupted=Retry(attempts=20, delay=0.1, backoff=1)))
    async with app:
        counts = await campaign.run()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
