"""A local HTTP/websocket server on a free loopback port, the base of the fake services."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from aiohttp import WSCloseCode, web


class LocalServer:
    """``async with Server() as server:`` serves :meth:`routes` at ``server.url``
    (``http://127.0.0.1:PORT`` + :attr:`base_path`) until the block ends."""

    base_path = ""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def accept_websocket(self, request: web.Request, headers: dict[str, str] | None = None,
                               **options: Any) -> web.WebSocketResponse | None:
        """Upgrade ``request`` to a websocket (None if it asked for no upgrade); the
        server closes it when it stops, as a service going away does (1001)."""
        ws = web.WebSocketResponse(**options)
        if not ws.can_prepare(request).ok:
            return None
        ws.headers.update(headers or {})
        await ws.prepare(request)
        self._sockets.add(ws)
        return ws

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.on_shutdown.append(self._close_sockets)
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}{self.base_path}"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
