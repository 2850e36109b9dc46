"""A local HTTP/websocket server on a free loopback port, the base of the fake services."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LocalServer:
    """``async with Server() as server:`` serves :meth:`routes` at ``server.url``
    (``http://127.0.0.1:PORT`` + :attr:`base_path`) until the block ends."""

    base_path = ""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        app = web.Application()
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
