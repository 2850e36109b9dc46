"""A local ARI for unit tests of an app: no Asterisk, real HTTP and websocket.

    async with FakeAri() as ari:
        app = VoxtraApp(ari_url=ari.url, ari_password=ari.password)
        await app.start()
        await ari.send({"type": "StasisStart", "application": "voxtra", "channel": {...}})

Protocol facts it relies on (Asterisk's ARI, ``rest-api/*.json``): requests go to
``/ari/...`` with HTTP Basic authentication (401 otherwise); events arrive as JSON text
frames on the websocket ``GET /ari/events?app=NAME``; ``GET /ari/asterisk/info``
describes the Asterisk; ``GET /ari/applications/{name}`` lists the channels and bridges
in the application (an app reconciles with it after each connection). Every other
request is answered as a success: 204 without a body, or for a ``GET`` of a channel
variable ``{"value": ""}``, and recorded in :attr:`FakeAri.requests` for the test to
check.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from aiohttp import web

from voxtra.sandbox.local_server import LocalServer


class FakeAri(LocalServer):
    """An ARI with no calls until the test sends their events."""

    def __init__(self, user: str = "voxtra", password: str = "fake-ari-password") -> None:
        super().__init__()
        self.user = user
        self.password = password
        #: Every authorised request but the websocket's: (method, path after /ari, query).
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        #: The channels :meth:`send` has put in the application and not taken out.
        self.channels: set[str] = set()
        self._sockets_by_app: dict[str, web.WebSocketResponse] = {}
        self.connected = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/ari/{path:.*}", self._handle)

    async def send(self, event: dict[str, Any] | str, app: str = "voxtra") -> None:
        """Deliver one event (a dict, or JSON text sent as it is) to ``app``'s websocket.
        A ``StasisStart`` puts its channel in the application, a ``StasisEnd`` takes it
        out."""
        await asyncio.wait_for(self.connected.wait(), 10)
        data = json.loads(event) if isinstance(event, str) else event
        channel = data.get("channel") if isinstance(data, dict) else None
        if isinstance(channel, dict):
            if data.get("type") == "StasisStart":
                self.channels.add(str(channel.get("id")))
            elif data.get("type") == "StasisEnd":
                self.channels.discard(str(channel.get("id")))
        await self._sockets_by_app[app].send_str(
            event if isinstance(event, str) else json.dumps(event))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        path = "/" + request.match_info["path"]
        if path == "/events":
            return await self._events(request)
        self.requests.append((request.method, path, dict(request.query)))
        if request.method == "GET" and path == "/asterisk/info":
            return web.json_response({"system": {"version": "22.0.0-fake", "entity_id": "fake"}})
        if request.method == "GET" and path.startswith("/applications/"):
            return web.json_response(self._application(path.split("/")[2]))
        if request.method == "POST" and path.endswith("/subscription"):
            return web.json_response(self._application(path.split("/")[2]))
        if request.method == "GET" and path.endswith("/variable"):
            return web.json_response({"value": ""})
        return web.Response(status=204)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        app = request.query.get("app", "")
        ws = await self.accept_websocket(request)
        if ws is None:
            return web.json_response({"message": "websocket expected"}, status=400)
        self._sockets_by_app[app] = ws
        self.connected.set()
        async for _ in ws:  # the app sends nothing; read until it closes
            pass
        if self._sockets_by_app.get(app) is ws:
            del self._sockets_by_app[app]
            self.connected.clear()
        return ws

    def _application(self, name: str) -> dict[str, Any]:
        return {"name": name, "channel_ids": sorted(self.channels), "bridge_ids": [],
                "endpoint_ids": [], "device_names": [], "events_allowed": [],
                "events_disallowed": []}

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"
