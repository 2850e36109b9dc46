"""The event stream against a local websocket server that misbehaves.

The server speaks the two parts of ARI the stream uses: the event websocket at
``/ari/events?app=NAME`` (JSON text frames) and ``GET /ari/applications/NAME``
(the reconcile after connecting).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriConnectionError
from voxtra.ari.events import EventStream
from voxtra.ari.model_base import Event, Message
from voxtra.ari.models import StasisStart
from voxtra.retry import Backoff

CHANNEL = {"id": "c1", "name": "PJSIP/x-1", "state": "Ring"}
BAD = ["not json", "[1, 2]", json.dumps({"type": "StasisStart", "application": "a"})]

EventsHandler = Callable[[web.WebSocketResponse, int], Awaitable[None]]


@contextlib.asynccontextmanager
async def fake_ari(serve: EventsHandler, channel_ids: list[str]) -> AsyncIterator[str]:
    """A local ARI for application ``a``: ``serve(ws, connection_number)`` drives each
    event websocket; yields the base URL. Open websockets end when the block ends."""
    connections = 0
    done = asyncio.Event()

    async def events(request: web.Request) -> web.WebSocketResponse:
        nonlocal connections
        ws = web.WebSocketResponse(autoping=False)  # pings are the handler's business
        await ws.prepare(request)
        connections += 1
        await serve(ws, connections)
        await done.wait()
        return ws

    async def application(request: web.Request) -> web.Response:
        return web.json_response({"name": "a", "channel_ids": channel_ids, "bridge_ids": []})

    app = web.Application()
    app.router.add_get("/ari/events", events)
    app.router.add_get("/ari/applications/a", application)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        done.set()
        await runner.cleanup()


async def run_until(stream: EventStream, condition: Callable[[], bool]) -> None:
    task = asyncio.create_task(stream.run())
    try:
        async with asyncio.timeout(5):
            while not condition():
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_bad_messages_are_counted_and_dropped() -> None:
    async def send_garbage(ws: web.WebSocketResponse, connection: int) -> None:
        for text in BAD:
            await ws.send_str(text)
        await ws.send_bytes(b"\x00\x01")
        await ws.send_str(json.dumps({"type": "BrandNewEvent", "application": "a", "x": 1}))
        await ws.send_str(json.dumps({"type": "StasisStart", "application": "a",
                                      "args": ["100"], "channel": CHANNEL}))
        if connection == 1:
            await ws.close()  # a drop: the stream must come back

    received: list[Message] = []
    async with fake_ari(send_garbage, ["c1", "c9"]) as url, AriClient(url, "u", "p") as client:
        stream = EventStream(client, "a", received.append, tracked=lambda: {"c1", "c2"},
                             backoff=Backoff(base=0.01, cap=0.05))
        await run_until(stream, lambda: stream.stats.connects >= 2 and len(received) >= 4)
    assert stream.stats.connects == 2
    assert stream.stats.malformed == 2 * (len(BAD) + 1)
    unknown = [e for e in received if e.type == "BrandNewEvent"]
    assert type(unknown[0]) is Event and unknown[0].model_extra == {"x": 1}
    starts = [e for e in received if isinstance(e, StasisStart)]
    assert [s.channel.id for s in starts] == ["c1", "c1"]
    reconcile = stream.last_reconcile
    assert reconcile is not None
    assert (reconcile.alive, reconcile.gone, reconcile.unknown) == (
        {"c1"}, {"c2"}, {"c9"})


async def test_a_silent_peer_is_noticed_by_keepalive_pings() -> None:
    """A server that keeps the socket open but never answers pings (a dead NAT path,
    say) is dropped after the heartbeat, and the stream connects again."""

    async def stay_silent(ws: web.WebSocketResponse, connection: int) -> None:
        return None

    async with fake_ari(stay_silent, []) as url, AriClient(url, "u", "p") as client:
        stream = EventStream(client, "a", lambda event: None, heartbeat=0.2,
                             backoff=Backoff(base=0.01, cap=0.05))
        await run_until(stream, lambda: stream.stats.connects >= 3)
    assert stream.stats.failed_attempts >= 2


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    delays = [backoff.delay(attempt) for attempt in range(12) for _ in range(20)]
    assert max(delays) <= 4.0 and min(delays) >= 0
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not a fixed schedule


@contextlib.asynccontextmanager
async def keep_alive_server(answer: Callable[[int, bytes], bytes | None]
                            ) -> AsyncIterator[tuple[str, list[int]]]:
    """A bare HTTP/1.1 server on loopback that keeps connections alive. For the n-th
    request line (counted from 1) ``answer(n, request_line)`` gives the whole response,
    or None to close the connection without one. Yields the base URL and, per request,
    the number of the connection it came on."""
    seen: list[int] = []
    count = {"connections": 0, "requests": 0}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count["connections"] += 1
        connection = count["connections"]
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                count["requests"] += 1
                seen.append(connection)
                response = answer(count["requests"], head.split(b"\r\n")[0])
                if response is None:
                    break
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", seen


OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
      b"Connection: keep-alive\r\n\r\n{}")


async def test_an_idempotent_request_is_sent_once_more_when_the_connection_drops() -> None:
    """RFC 9110 section 9.2.2: a GET whose connection closed before any answer is sent
    again, on a new connection; a POST is not (it may have been done): it fails as
    AriConnectionError."""
    drop = {1, 3}  # the first GET's request, and the POST's
    async with keep_alive_server(lambda n, line: None if n in drop else OK) as (url, seen), \
            AriClient(url, "u", "p") as client:
        assert await client.request("GET", "/asterisk/info") == {}
        assert seen == [1, 2]
        with pytest.raises(AriConnectionError, match="closed the connection"):
            await client.request("POST", "/channels/c1/answer")
        assert len(seen) == 3


async def test_after_losing_asterisk_requests_go_over_new_connections() -> None:
    """``renew_connections`` (called by the event stream when it loses Asterisk): the
    next request opens a connection of its own rather than reuse a kept-alive one."""
    async with keep_alive_server(lambda n, line: OK) as (url, seen), \
            AriClient(url, "u", "p") as client:
        await client.request("GET", "/asterisk/info")
        await client.request("GET", "/asterisk/info")
        client.renew_connections()
        await client.request("GET", "/asterisk/info")
    assert seen == [1, 1, 2]


async def test_the_event_stream_renews_the_clients_connections_when_it_drops() -> None:
    async def close_at_once(ws: web.WebSocketResponse, connection: int) -> None:
        await ws.close()

    async with fake_ari(close_at_once, []) as url:
        client = AriClient(url, "u", "p")
        renewed: list[bool] = []
        client.renew_connections = lambda: renewed.append(True)  # type: ignore[method-assign]
        stream = EventStream(client, "a", lambda event: None,
                             backoff=Backoff(base=0.01, cap=0.02))
        await run_until(stream, lambda: len(renewed) >= 2)
        await client.close()
