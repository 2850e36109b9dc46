"""The event stream against a local websocket server that sends bad messages.

The server speaks the two parts of ARI the stream uses: the event websocket at
``/ari/events?app=NAME`` (JSON text frames) and ``GET /ari/applications/NAME``
(the reconcile after connecting).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from voxtra.ari.client import AriClient
from voxtra.ari.events import EventStream
from voxtra.ari.model_base import Event, Message
from voxtra.ari.models import StasisStart
from voxtra.retry import Backoff

CHANNEL = {"id": "c1", "name": "PJSIP/x-1", "state": "Ring"}
BAD = ["not json", "[1, 2]", json.dumps({"type": "StasisStart", "application": "a"})]


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[int]]]:
    connections: list[int] = []
    done = asyncio.Event()

    async def events(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connections.append(1)
        for text in BAD:
            await ws.send_str(text)
        await ws.send_bytes(b"\x00\x01")
        await ws.send_str(json.dumps({"type": "BrandNewEvent", "application": "a", "x": 1}))
        await ws.send_str(json.dumps({"type": "StasisStart", "application": "a",
                                      "args": ["100"], "channel": CHANNEL}))
        if len(connections) == 1:
            await ws.close()  # a drop: the stream must come back
        else:
            await done.wait()
        return ws

    async def application(request: web.Request) -> web.Response:
        return web.json_response({"name": "a", "channel_ids": ["c1", "c9"], "bridge_ids": []})

    app = web.Application()
    app.router.add_get("/ari/events", events)
    app.router.add_get("/ari/applications/a", application)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", connections
    done.set()
    await runner.cleanup()


async def test_bad_messages_are_counted_and_dropped(server: tuple[str, list[int]]) -> None:
    url, connections = server
    received: list[Message] = []
    async with AriClient(url, "u", "p") as client:
        stream = EventStream(client, "a", received.append, tracked=lambda: {"c1", "c2"},
                             backoff=Backoff(base=0.01, cap=0.05))
        task = asyncio.create_task(stream.run())
        async with asyncio.timeout(5):
            while stream.stats.connects < 2 or len(received) < 4:
                await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(connections) == 2
    assert stream.stats.malformed == 2 * (len(BAD) + 1)
    unknown = [e for e in received if e.type == "BrandNewEvent"]
    assert type(unknown[0]) is Event and unknown[0].model_extra == {"x": 1}
    starts = [e for e in received if isinstance(e, StasisStart)]
    assert [s.channel.id for s in starts] == ["c1", "c1"]
    reconcile = stream.last_reconcile
    assert reconcile is not None
    assert (reconcile.alive, reconcile.gone, reconcile.unknown) == (
        {"c1"}, {"c2"}, {"c9"})


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    delays = [backoff.delay(attempt) for attempt in range(12) for _ in range(20)]
    assert max(delays) <= 4.0 and min(delays) >= 0
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not a fixed schedule


async def test_a_silent_peer_is_noticed_by_keepalive_pings() -> None:
    """A server that keeps the socket open but never answers pings (a dead NAT path,
    say) is dropped after the heartbeat, and the stream connects again."""
    connections = 0
    done = asyncio.Event()

    async def events(request: web.Request) -> web.WebSocketResponse:
        nonlocal connections
        ws = web.WebSocketResponse(autoping=False)  # pings go unanswered
        await ws.prepare(request)
        connections += 1
        await done.wait()
        return ws

    async def application(request: web.Request) -> web.Response:
        return web.json_response({"name": "a", "channel_ids": [], "bridge_ids": []})

    app = web.Application()
    app.router.add_get("/ari/events", events)
    app.router.add_get("/ari/applications/a", application)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with AriClient(f"http://127.0.0.1:{port}", "u", "p") as client:
        stream = EventStream(client, "a", lambda event: None, heartbeat=0.2,
                             backoff=Backoff(base=0.01, cap=0.05))
        task = asyncio.create_task(stream.run())
        async with asyncio.timeout(5):
            while stream.stats.connects < 3:
                await asyncio.sleep(0.02)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    done.set()
    await runner.cleanup()
    assert connections >= 3
