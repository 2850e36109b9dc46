"""A proxy in front of a real ARI that passes everything through and lets a test slip
its own frames into the event websocket: fuzzing the app's event stream on a live
connection, with real calls flowing beside the garbage.

REST requests are forwarded as they come (method, path, query, body, Authorization);
the event websocket is relayed both ways, and :meth:`AriProxy.inject` sends a frame
to every app connected through the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web

from voxtra.sandbox.local_server import LocalServer


class AriProxy(LocalServer):
    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.clients: list[web.WebSocketResponse] = []
        self._session: aiohttp.ClientSession | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/ari/{path:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        url = f"{self.upstream}{request.path}"
        if request.path == "/ari/events":
            return await self._relay_events(request, url, headers)
        body = await request.read()
        if body:
            headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
        async with self._session.request(request.method, url, params=request.query,
                                         data=body or None, headers=headers) as upstream:
            return web.Response(status=upstream.status, body=await upstream.read(),
                                content_type=upstream.content_type)

    async def _relay_events(self, request: web.Request, url: str,
                            headers: dict[str, str]) -> web.StreamResponse:
        assert self._session is not None
        try:
            upstream = await self._session.ws_connect(url, params=request.query,
                                                      headers=headers)
        except aiohttp.WSServerHandshakeError as exc:
            return web.Response(status=exc.status)
        client = await self.accept_websocket(request, max_msg_size=0)
        assert client is not None
        self.clients.append(client)

        async def down() -> None:
            async for message in upstream:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await client.send_str(message.data)
                else:
                    break
            await client.close()

        relay = asyncio.create_task(down())
        try:
            async for _ in client:  # the app sends nothing but control frames
                pass
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            await upstream.close()
            self.clients.remove(client)
        return client

    async def inject(self, frame: str | bytes) -> None:
        """Send ``frame`` (text or binary) to every app connected through the proxy (an
        app that drops the connection on it is no error here)."""
        for client in list(self.clients):
            with contextlib.suppress(ConnectionError):
                if isinstance(frame, bytes):
                    await client.send_bytes(frame)
                else:
                    await client.send_str(frame)

    async def __aexit__(self, *args: object) -> None:
        await super().__aexit__(*args)  # type: ignore[arg-type]
        if self._session is not None:
            await self._session.close()
