"""Control-plane benchmark: event dispatch throughput and ARI REST round trips.

    .venv/bin/python bench/ari_bench.py [--events 200000] [--channels 200] [--requests 1000]

1. Dispatch: ARI event JSON text → typed parse → the app's per-channel queues →
   each call's ordered consumer, for ``--channels`` concurrent calls. Reports
   events/s for the reader side alone (what the websocket reader pays) and end
   to end (until every call's queue is drained).
2. REST: ``GET /asterisk/ping`` and ``GET /channels`` round trips against a
   sandbox Asterisk started for the run: p50/p99 latency sequentially, and
   requests/s with 16 in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import time

from pydantic import SecretStr

from voxtra import CallSession
from voxtra.app import VoxtraApp
from voxtra.ari.client import AriClient
from voxtra.ari.events import EventStream
from voxtra.sandbox.asterisk import AsteriskSandbox, SandboxOptions
from voxtra.sandbox.ports import free_port
from voxtra.settings import VoxtraSettings


def event_texts(channels: int, total: int) -> tuple[list[str], list[str]]:
    def channel(i: int) -> dict[str, object]:
        return {"id": f"bench-{i}", "name": f"PJSIP/loopback-{i:08x}", "state": "Up",
                "caller": {"name": "", "number": "5550100"}, "connected": {"name": "",
                "number": ""}, "accountcode": "", "dialplan": {"context": "voxtra-inbound",
                "exten": "100", "priority": 1, "app_name": "Stasis", "app_data": "voxtra,100"},
                "creationtime": "2026-11-22T21:00:00.000+0000", "language": "en"}

    starts = [json.dumps({"type": "StasisStart", "application": "voxtra",
                          "timestamp": "2026-11-22T21:00:00.000+0000", "args": ["100"],
                          "channel": channel(i)}) for i in range(channels)]
    kinds = [
        lambda i: {"type": "ChannelDtmfReceived", "digit": "5", "duration_ms": 120},
        lambda i: {"type": "ChannelVarset", "variable": "X", "value": "1"},
        lambda i: {"type": "ChannelStateChange"},
        lambda i: {"type": "ChannelTalkingStarted"},
    ]
    body = []
    for n in range(total):
        i = n % channels
        event = kinds[n % len(kinds)](i) | {"application": "voxtra", "channel": channel(i),
                                            "timestamp": "2026-11-22T21:00:00.000+0000"}
        body.append(json.dumps(event))
    return starts, body


async def bench_dispatch(channels: int, total: int) -> dict[str, float]:
    app = VoxtraApp(VoxtraSettings(ari_password=SecretStr("not-used-offline-123")))
    app._calls.accepting = True

    @app.route()
    async def waits(call: CallSession) -> None:
        await asyncio.Event().wait()

    stream = EventStream(app.client, "voxtra", app._calls.dispatch)
    starts, body = event_texts(channels, total)
    for text in starts:
        stream._receive(text)
    await asyncio.sleep(0)
    # Feed in websocket-sized bursts and let the calls' consumers run in between,
    # as the event loop does with a live stream.
    reader = 0.0
    began = time.perf_counter()
    for offset in range(0, total, 500):
        burst_began = time.perf_counter()
        for text in body[offset:offset + 500]:
            stream._receive(text)
        reader += time.perf_counter() - burst_began
        await asyncio.sleep(0)
    while any(not call.queue.empty() for call in app.calls.values()):
        await asyncio.sleep(0)
    end_to_end = time.perf_counter() - began
    for call in app.calls.values():
        for task in call.tasks:
            task.cancel()
    await app.client.close()
    return {"events": total, "channels": channels, "malformed": stream.stats.malformed,
            "reader_events_per_s": total / reader, "end_to_end_events_per_s": total / end_to_end}


async def bench_rest(client: AriClient, requests: int) -> dict[str, float]:
    result: dict[str, float] = {}
    for name, call in (("ping", client.asterisk.ping), ("list_channels", client.channels.list)):
        for _ in range(20):
            await call()
        samples = []
        for _ in range(requests):
            began = time.perf_counter()
            await call()
            samples.append((time.perf_counter() - began) * 1000)
        samples.sort()
        result[f"{name}_p50_ms"] = statistics.median(samples)
        result[f"{name}_p99_ms"] = samples[int(len(samples) * 0.99) - 1]
    semaphore = asyncio.Semaphore(16)

    async def one() -> None:
        async with semaphore:
            await client.asterisk.ping()

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    result["ping_concurrent16_req_per_s"] = requests / (time.perf_counter() - began)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print("dispatch:", json.dumps(await bench_dispatch(args.channels, args.events), indent=1))
    sandbox = AsteriskSandbox(SandboxOptions(
        name="bench", ari_port=free_port(socket.SOCK_STREAM),
        sip_port=free_port(socket.SOCK_DGRAM)))
    state = sandbox.start()
    try:
        async with AriClient(state.ari_url, state.ari_user, state.ari_password) as client:
            print("rest:", json.dumps(await bench_rest(client, args.requests), indent=1))
    finally:
        sandbox.stop()


if __name__ == "__main__":
    asyncio.run(main())
