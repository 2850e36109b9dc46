"""What a newcomer reads when Asterisk is not ready for Voxtra: one clear line each."""

from __future__ import annotations

import pytest
from aiohttp import web
from pydantic import SecretStr

from voxtra import VoxtraApp, VoxtraSettings
from voxtra.ari.errors import AriNotEnabledError
from voxtra.sandbox.local_server import LocalServer


class HttpWithoutAri(LocalServer):
    """Asterisk's HTTP server with ari.conf disabled: an HTML 404 page for /ari/..."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ari/asterisk/info", self.page)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(status=404, content_type="text/html",
                            text="<!DOCTYPE html><html><title>404 Not Found</title></html>")


async def test_http_without_ari_is_named_not_dumped_and_not_waited_for() -> None:
    async with HttpWithoutAri() as server:
        app = VoxtraApp(VoxtraSettings(ari_url=server.url,
                                       ari_password=SecretStr("a-password-long-enough")))
        with pytest.raises(AriNotEnabledError) as raised:
            await app.serve()  # fails at once: no retrying for a configuration problem
    message = str(raised.value)
    assert "enabled = yes" in message and "<html" not in message.lower()


async def test_run_inside_a_running_loop_says_how_to_guard_it() -> None:
    """A module that calls ``app.run()`` when imported, imported from async code (as
    ``voxtra demo app.py`` does): one line naming the fix, not asyncio's traceback."""
    app = VoxtraApp(VoxtraSettings(ari_password=SecretStr("a-password-long-enough")))
    with pytest.raises(SystemExit) as raised:
        app.run()
    message = str(raised.value)
    assert 'if __name__ == "__main__":' in message and "await app.serve()" in message
    await app.client.close()
