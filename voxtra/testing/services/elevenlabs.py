"""A local server speaking ElevenLabs' streaming text-to-speech API, for tests of the real SDK.

Protocol facts it relies on (ElevenLabs API reference, "Authentication", "Stream speech",
"Get voice"): requests carry the key in an ``xi-api-key`` header.
``POST /v1/text-to-speech/{voice_id}/stream`` takes ``output_format`` (and
``optimize_streaming_latency``) in the query and a JSON body with ``text``, ``model_id``
and optional ``voice_settings``; the answer is the audio itself, sent as it is made
(HTTP/1.1 chunked). ``pcm_{rate}`` is raw mono signed 16-bit little-endian samples and
``ulaw_8000`` raw G.711 μ-law bytes, neither with a header. ``GET /v1/voices/{voice_id}``
describes a voice. ``POST /v1/text-to-speech/{voice_id}/stream/with-timestamps`` ("Stream
speech with timing") takes the same request and answers with newline-delimited JSON
objects instead, each ``audio_base64`` (the next piece of audio) with ``alignment`` and
``normalized_alignment`` (``characters``, ``character_start_times_seconds``,
``character_end_times_seconds``: the characters whose sound starts in that piece, in
seconds from the start of the request's audio; null when none does). Errors are JSON
``{"detail": {"status": ..., "message": ...}}`` with the HTTP status: 401
``invalid_api_key`` for a bad key, 401 ``missing_permissions`` for a key restricted away
from an endpoint (e.g. without ``voices_read``).

The audio is a tone whose length follows the text, so tests can check what arrives.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from voxtra.media.audio import Pcm
from voxtra.media.g711 import ulaw_encode
from voxtra.sandbox.audio import tone
from voxtra.sandbox.local_server import LocalServer

#: The formats this fake can make, with their sample rates.
RATES = {"pcm_8000": 8000, "pcm_16000": 16000, "pcm_22050": 22050, "pcm_24000": 24000,
         "ulaw_8000": 8000}
FREQUENCY = 440.0


@dataclass
class FakeRequest:
    """One request as the server saw it."""

    method: str
    path: str
    voice_id: str
    query: dict[str, str]
    body: dict[str, Any]
    api_key: str | None

    @property
    def output_format(self) -> str | None:
        return self.query.get("output_format")

    @property
    def model_id(self) -> str | None:
        return self.body.get("model_id")

    @property
    def text(self) -> str | None:
        return self.body.get("text")


@dataclass
class StreamLog:
    """What became of the last audio stream."""

    chunks_sent: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)


def speech(text: str, output_format: str, seconds_per_char: float = 0.02) -> tuple[Pcm, bytes]:
    """The tone the fake says ``text`` with, as samples and as the bytes it sends."""
    pcm = tone(FREQUENCY, len(text) * seconds_per_char, RATES[output_format])
    if output_format == "ulaw_8000":
        return pcm, ulaw_encode(pcm)
    return pcm, pcm.astype("<i2").tobytes()


class FakeElevenLabs(LocalServer):
    """``async with FakeElevenLabs() as server:``, then ``base_url=server.url``.

    ``requests`` records every request and ``stream`` the last audio stream (chunks sent,
    ``finished``, ``disconnected`` when the client went away before the end). Audio goes
    out in ``chunk_bytes`` pieces ``chunk_delay`` seconds apart. ``reject_key``,
    ``fail_status``, ``drop_after_chunks``, ``first_chunk_delay`` make it misbehave;
    ``tts_only_key`` answers ``missing_permissions`` on the voices endpoint.
    """

    def __init__(self, *, api_key: str = "test-key", reject_key: bool = False,
                 fail_status: int | None = None, drop_after_chunks: int | None = None,
                 first_chunk_delay: float = 0.0, chunk_bytes: int = 1600,
                 chunk_delay: float = 0.02, seconds_per_char: float = 0.02,
                 tts_only_key: bool = False) -> None:
        super().__init__()
        self.api_key = api_key
        self.reject_key = reject_key
        self.fail_status = fail_status
        self.drop_after_chunks = drop_after_chunks
        self.first_chunk_delay = first_chunk_delay
        self.chunk_bytes = chunk_bytes
        self.chunk_delay = chunk_delay
        self.seconds_per_char = seconds_per_char
        self.tts_only_key = tts_only_key
        self.requests: list[FakeRequest] = []
        self.stream = StreamLog()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/text-to-speech/{voice_id}/stream", self._speak)
        app.router.add_post("/v1/text-to-speech/{voice_id}/stream/with-timestamps",
                            self._speak_timed)
        app.router.add_get("/v1/voices/{voice_id}", self._voice)

    async def _record(self, request: web.Request) -> FakeRequest:
        body: dict[str, Any] = {}
        if request.can_read_body:
            body = await request.json()
        seen = FakeRequest(request.method, request.path, request.match_info["voice_id"],
                           dict(request.query), body, request.headers.get("xi-api-key"))
        self.requests.append(seen)
        return seen

    def _refusal(self, seen: FakeRequest) -> web.Response | None:
        if self.reject_key or seen.api_key != self.api_key:
            return _error(401, "invalid_api_key", "Invalid API key")
        if self.fail_status is not None:
            return _error(self.fail_status, "fake_failure", "The fake server was told to fail.")
        return None

    async def _voice(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        refusal = self._refusal(seen)
        if refusal is not None:
            return refusal
        if self.tts_only_key:
            return _error(401, "missing_permissions", "The API key you used is missing the "
                          "permission voices_read to execute this operation.")
        return web.json_response({"voice_id": seen.voice_id, "name": "Fake", "category":
                                  "premade", "labels": {}, "settings": None})

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, timed=False)

    async def _speak_timed(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, timed=True)

    async def _stream(self, request: web.Request, *, timed: bool) -> web.StreamResponse:
        seen = await self._record(request)
        refusal = self._refusal(seen)
        if refusal is not None:
            return refusal
        if seen.output_format not in RATES:
            return _error(400, "unsupported_format",
                          f"this fake makes only {', '.join(RATES)}")
        if not seen.text:
            return _error(400, "empty_text", "text is required")
        self.stream = log = StreamLog()
        text = seen.text
        _, audio = speech(text, seen.output_format, self.seconds_per_char)
        bytes_per_second = RATES[seen.output_format] * (1 if seen.output_format == "ulaw_8000"
                                                        else 2)
        await asyncio.sleep(self.first_chunk_delay)
        response = web.StreamResponse(headers={
            "Content-Type": "application/json" if timed else "application/octet-stream"})
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            for start in range(0, len(audio), self.chunk_bytes):
                if self.drop_after_chunks is not None and log.chunks_sent >= self.drop_after_chunks:
                    assert request.transport is not None
                    request.transport.close()  # the connection drops mid-stream
                    return response
                piece = audio[start:start + self.chunk_bytes]
                if timed:
                    span = (start / bytes_per_second, (start + len(piece)) / bytes_per_second)
                    piece = _timed_piece(text, piece, span, self.seconds_per_char)
                await response.write(piece)
                log.chunks_sent += 1
                await asyncio.sleep(self.chunk_delay)
            await response.write_eof()
            log.finished.set()
        except ConnectionError:  # the client went away (aiohttp: writing to a closed transport)
            log.disconnected.set()
        except asyncio.CancelledError:
            log.disconnected.set()
            raise
        return response


def _timed_piece(text: str, audio: bytes, span: tuple[float, float],
                 seconds_per_char: float) -> bytes:
    """One line of the with-timestamps answer: ``audio`` and the characters of ``text``
    whose sound starts within ``span`` (seconds)."""
    chars = [i for i in range(len(text)) if span[0] <= i * seconds_per_char < span[1]]
    alignment = {"characters": [text[i] for i in chars],
                 "character_start_times_seconds": [round(i * seconds_per_char, 3)
                                                   for i in chars],
                 "character_end_times_seconds": [round((i + 1) * seconds_per_char, 3)
                                                 for i in chars]} if chars else None
    return json.dumps({"audio_base64": base64.b64encode(audio).decode(),
                       "alignment": alignment, "normalized_alignment": alignment}).encode() + b"\n"


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"detail": {"status": kind, "message": message}}, status=status)

