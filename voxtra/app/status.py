"""The app's status over HTTP, for Prometheus and for an orchestrator's probes.

``GET /metrics``: :mod:`voxtra.app.telemetry` in Prometheus' text format.
``GET /health``: 200 while the process's event loop answers (a liveness probe).
``GET /ready``: 200 while the app takes new calls (ARI connected, not overloaded, not
shutting down), else 503 with the reason: a readiness probe, or a load balancer's check.
Bound to loopback unless configured (``status_bind``).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from voxtra.app.telemetry import Telemetry


class StatusServer:
    def __init__(self, telemetry: Telemetry, not_ready: Callable[[], str | None]) -> None:
        """``not_ready()`` is why the app takes no new calls now, or None."""
        self.telemetry = telemetry
        self.not_ready = not_ready
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, bind: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_get("/ready", self._ready)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, bind, port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self.telemetry.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _ready(self, _: web.Request) -> web.Response:
        reason = self.not_ready()
        if reason is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")
