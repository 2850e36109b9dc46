"""Prompts served over HTTP on loopback, as Asterisk's media cache fetches them
(``play_file`` of a URL)."""

from __future__ import annotations

import io
import wave

from aiohttp import web

from voxtra.media.audio import Pcm
from voxtra.sandbox.local_server import LocalServer


def wav_bytes(pcm: Pcm, rate: int = 8000) -> bytes:
    """A 16-bit mono WAV file, a format Asterisk plays from a URL."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.astype("<i2").tobytes())
    return buffer.getvalue()


class PromptServer(LocalServer):
    """Serves WAV prompts at ``{url}/{name}.wav`` (:meth:`of`); counts the fetches."""

    def __init__(self, prompts: dict[str, bytes]) -> None:
        super().__init__()
        self.prompts = prompts
        self.fetches: dict[str, int] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/{name}.wav", self.prompt)

    async def prompt(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.prompts:
            raise web.HTTPNotFound()
        self.fetches[name] = self.fetches.get(name, 0) + 1
        return web.Response(body=self.prompts[name], content_type="audio/wav")

    def of(self, name: str) -> str:
        return f"{self.url}/{name}.wav"
