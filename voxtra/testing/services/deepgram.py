"""A local server speaking Deepgram's live transcription websocket, for tests of the real SDK.

Protocol facts it relies on (Deepgram API reference, "Live Audio" / ``/v1/listen``, and the
"KeepAlive", "Finalize" and "Close Stream" guides):

* The client opens a websocket on ``GET /v1/listen`` with its options in the query
  (``model``, ``language``, ``encoding``, ``sample_rate``, ``channels``,
  ``interim_results``, ``endpointing``, ``smart_format``...) and its key in an
  ``Authorization: Token <key>`` header; a rejected key is an HTTP 401 answer to the
  upgrade instead of ``101 Switching Protocols``.
* Audio goes up as binary frames of raw samples: ``linear16`` is 16-bit little-endian
  PCM, ``mulaw`` G.711 μ-law, one byte a sample.
* Control messages are JSON text frames: ``{"type": "KeepAlive"}`` (keeps an idle stream
  open; Deepgram closes a stream that gets neither audio nor a message for about 10 s),
  ``{"type": "Finalize"}`` (flush: the results for the audio so far come back as a
  final result with ``from_finalize: true``; with nothing pending there may be no
  answer) and ``{"type": "CloseStream"}`` (the last results, then a ``Metadata``
  message, then the server closes the websocket normally).
* Answers are JSON text frames. ``Results``: ``channel_index``, ``start`` and
  ``duration`` (seconds of the stream's audio), ``is_final`` (an interim result may still
  change, a final one is settled), ``speech_final`` (endpointing heard the speaker
  stop), ``from_finalize``, ``channel.alternatives[]`` with ``transcript``,
  ``confidence`` and ``words[]`` (``word``, ``start``, ``end``, ``confidence``,
  ``punctuated_word``), and ``metadata`` (``request_id``, ``model_info``,
  ``model_uuid``). ``Metadata``: ``transaction_key``, ``request_id``, ``sha256``,
  ``created``, ``duration``, ``channels``. Interim results are sent only when the query
  says ``interim_results=true``.

* A stream that receives neither audio nor a text message for 10 s is closed by the
  server with close code 1011 and a reason naming ``NET-0001`` ("Audio Keep Alive" guide,
  and the "Troubleshooting WebSocket, NET and DATA errors" guide).
* ``endpointing=N`` (ms) makes a result final with ``speech_final: true`` once the
  speaker has paused for N ms after speech; ``endpointing=false`` turns that off
  ("Endpointing" guide). Silence alone never makes words.

What the fake makes up: the words of a connection's script are "recognised" one per
``seconds_per_word`` of *sounding* audio (20 ms pieces above about -45 dBFS; silence
adds none), an interim result goes out every ``interim_every`` seconds of audio, and a
pause of ``endpointing`` ms after sound makes the words recognised so far final.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from voxtra.media.g711 import ulaw_decode
from voxtra.sandbox.local_server import LocalServer

CONFIDENCE = 0.93
#: Deepgram's idle timeout: no audio and no message for this long closes the stream.
IDLE_TIMEOUT = 10.0
#: RMS of a 16-bit sample above which a piece of audio counts as sound (about -45 dBFS).
SOUND_FLOOR = 180.0
MODEL_UUID = "00000000-0000-4000-8000-00000000f4e3"
IDLE_REASON = ("NET-0001: Deepgram did not receive audio data or a text message within the "
               "timeout window")


@dataclass
class FakeConnection:
    """One websocket as the server saw it."""

    query: dict[str, str]
    authorization: str | None
    accepted: bool = False
    audio: bytearray = field(default_factory=bytearray)
    #: Control messages received, as ``(seconds since the upgrade, type)``.
    controls: list[tuple[float, str]] = field(default_factory=list)
    #: Every message sent to the client, decoded.
    sent: list[dict[str, Any]] = field(default_factory=list)
    dropped: bool = False
    #: The server closed the stream for want of audio or messages (NET-0001).
    idle_closed: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, kind: str) -> int:
        return sum(1 for _, seen in self.controls if seen == kind)

    @property
    def audio_bytes(self) -> int:
        return len(self.audio)

    @property
    def bytes_per_second(self) -> int:
        rate = int(self.query.get("sample_rate", "16000"))
        return rate if self.query.get("encoding") in ("mulaw", "alaw") else 2 * rate

    @property
    def seconds(self) -> float:
        return self.audio_bytes / self.bytes_per_second


@dataclass
class _Script:
    """A connection's segments and how far the fake has got through them."""

    segments: list[list[str]]
    #: Start the segments again once they are all final (a long-lived stream).
    repeat: bool = False
    revealed: int = 0  # words of the current segment out so far
    segment_start: float = 0.0
    sounding: float = 0.0  # seconds of sound heard in the current segment
    quiet_since: float | None = None  # stream time the latest pause began, after sound
    whole: list[list[str]] = field(init=False)  # the segments as given (for ``repeat``)

    @property
    def current(self) -> list[str]:
        return self.segments[0] if self.segments else []

    def __post_init__(self) -> None:
        self.whole = [list(segment) for segment in self.segments]


class FakeDeepgram(LocalServer):
    """``async with FakeDeepgram(transcripts=["hello there"]) as server:``, then give the
    SDK ``server.url``.

    ``transcripts`` holds one script per connection, in order (the last one repeats): a
    string, or a list of segments that endpointing finalises one by one.
    ``connections`` records what each client sent (rejected ones too). ``reject_key``
    answers the upgrade with 401 (so does any key but ``api_key``); ``drop_after_bytes``
    cuts the TCP connection once that much audio has arrived, without a close frame;
    ``slow`` delays every answer by that many seconds; ``idle_timeout`` is Deepgram's
    10 s (shorter in tests that wait for it). With ``repeat`` a connection's script
    starts again once it is all final (one stream that hears turn after turn).
    """

    def __init__(self, *, transcripts: Sequence[str | Sequence[str]] = ("hello",),
                 api_key: str = "test-key", reject_key: bool = False,
                 drop_after_bytes: int | None = None, slow: float = 0.0,
                 seconds_per_word: float = 0.25, interim_every: float = 0.1,
                 idle_timeout: float = IDLE_TIMEOUT, repeat: bool = False) -> None:
        super().__init__()
        self.transcripts = list(transcripts)
        self.api_key = api_key
        self.reject_key = reject_key
        self.drop_after_bytes = drop_after_bytes
        self.slow = slow
        self.seconds_per_word = seconds_per_word
        self.interim_every = interim_every
        self.idle_timeout = idle_timeout
        self.repeat = repeat
        self.connections: list[FakeConnection] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/listen", self._listen)

    @property
    def last(self) -> FakeConnection:
        return self.connections[-1]

    def _script(self) -> _Script:
        if not self.transcripts:
            return _Script([])
        entry = self.transcripts[min(len(self.connections) - 1, len(self.transcripts) - 1)]
        parts = [entry] if isinstance(entry, str) else list(entry)
        return _Script([part.split() for part in parts if part.split()], self.repeat)

    async def _listen(self, request: web.Request) -> web.StreamResponse:
        seen = FakeConnection(dict(request.query), request.headers.get("Authorization"))
        self.connections.append(seen)
        request_id = str(uuid.uuid4())
        if self.reject_key or seen.authorization != f"Token {self.api_key}":
            seen.closed.set()
            return web.json_response(
                {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.",
                 "request_id": request_id}, status=401, headers={"dg-request-id": request_id})
        seen.accepted = True
        session = _Session(self, seen, self._script(), request_id)
        ws = await self.accept_websocket(request, {"dg-request-id": request_id})
        if ws is None:
            raise web.HTTPBadRequest(text="expected a websocket upgrade")
        try:
            await session.serve(ws, request)
        finally:
            seen.closed.set()
        return ws


class _Session:
    """One connection: reads audio and control messages, answers as Deepgram would."""

    def __init__(self, server: FakeDeepgram, seen: FakeConnection, script: _Script,
                 request_id: str) -> None:
        self.server = server
        self.seen = seen
        self.script = script
        self.request_id = request_id
        self.opened = time.monotonic()
        self.interim = seen.query.get("interim_results") == "true"
        endpointing = seen.query.get("endpointing", "10")
        self.endpointing = float("inf") if endpointing == "false" else int(endpointing) / 1000
        self.interim_step = max(1, round(server.interim_every * seen.bytes_per_second))
        self.next_interim = self.interim_step  # in bytes of audio
        self.ws: web.WebSocketResponse | None = None

    async def serve(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        while True:
            try:
                message = await ws.receive(timeout=self.server.idle_timeout)
            except TimeoutError:
                self.seen.idle_closed = True
                await ws.close(code=1011, message=IDLE_REASON.encode())
                return
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                WSMsgType.ERROR):
                return
            if message.type is WSMsgType.BINARY:
                self.seen.audio += message.data
                limit = self.server.drop_after_bytes
                if limit is not None and self.seen.audio_bytes >= limit:
                    self.seen.dropped = True
                    assert request.transport is not None
                    request.transport.close()  # no close frame: the connection just ends
                    return
                await self._heard(message.data)
            elif message.type is WSMsgType.TEXT:
                kind = str(json.loads(message.data).get("type"))
                self.seen.controls.append((time.monotonic() - self.opened, kind))
                if kind == "Finalize":
                    await self._flush(from_finalize=True)
                elif kind == "CloseStream":
                    await self._flush(from_finalize=False)
                    await self._send(self._metadata())
                    await ws.close()
                    return

    async def _heard(self, data: bytes) -> None:
        """New audio: reveal a word per ``seconds_per_word`` of sound, make the words so far
        final after an ``endpointing`` pause, send interim results."""
        script, now = self.script, self.seen.seconds
        seconds = len(data) / self.seen.bytes_per_second
        if _sounding(data, self.seen.query.get("encoding")):
            script.sounding += seconds
            script.quiet_since = None
            if script.current:
                script.revealed = min(len(script.current), int(
                    script.sounding / self.server.seconds_per_word + 1e-9))
        elif script.sounding and script.quiet_since is None:
            script.quiet_since = now - seconds
        if script.revealed and script.quiet_since is not None and \
                now - script.quiet_since >= self.endpointing - 1e-9:
            await self._send(self._results(True, True, False))
            self._next_segment()
        if self.seen.audio_bytes >= self.next_interim:
            while self.next_interim <= self.seen.audio_bytes:
                self.next_interim += self.interim_step
            if self.interim:
                await self._send(self._results(False, False, False))

    async def _flush(self, *, from_finalize: bool) -> None:
        """The current segment comes out whole in one final result (none if nothing is
        left); later segments wait for their own speech."""
        script = self.script
        if not script.segments:
            return
        script.revealed = len(script.current)
        await self._send(self._results(True, False, from_finalize))
        self._next_segment()

    def _next_segment(self) -> None:
        """The revealed words are final: the rest of the segment (if any) goes on."""
        script = self.script
        del script.current[:script.revealed]
        if not script.current:
            script.segments.pop(0)
        if not script.segments and script.repeat:
            script.segments = [list(segment) for segment in script.whole]
        script.revealed, script.sounding, script.quiet_since = 0, 0.0, None
        script.segment_start = self.seen.seconds

    def _results(self, is_final: bool, speech_final: bool, from_finalize: bool) -> dict[str, Any]:
        script = self.script
        words = script.current[:script.revealed]
        start, end = script.segment_start, self.seen.seconds
        step = (end - start) / max(1, len(words))
        return {
            "type": "Results", "channel_index": [0, 1], "start": round(start, 6),
            "duration": round(end - start, 6), "is_final": is_final,
            "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{
                "transcript": " ".join(words), "confidence": CONFIDENCE,
                "words": [{"word": word.strip(".,?!").lower(), "punctuated_word": word,
                           "start": round(start + i * step, 6),
                           "end": round(start + (i + 1) * step, 6), "confidence": CONFIDENCE}
                          for i, word in enumerate(words)]}]},
            "metadata": {"request_id": self.request_id, "model_uuid": MODEL_UUID,
                         "model_info": {"name": self.seen.query.get("model", "general"),
                                        "version": "fake", "arch": "fake"}},
        }

    def _metadata(self) -> dict[str, Any]:
        return {"type": "Metadata", "transaction_key": "deprecated",
                "request_id": self.request_id,
                "sha256": hashlib.sha256(self.request_id.encode()).hexdigest(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "duration": round(self.seen.seconds, 6), "channels": 1,
                "models": [MODEL_UUID]}

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        if self.server.slow:
            await asyncio.sleep(self.server.slow)
        if not self.ws.closed:
            self.seen.sent.append(message)
            await self.ws.send_json(message)


def _sounding(data: bytes, encoding: str | None) -> bool:
    """Whether a piece of audio is louder than :data:`SOUND_FLOOR`."""
    if encoding == "mulaw":
        pcm = ulaw_decode(data)
    else:
        pcm = np.frombuffer(data[:len(data) // 2 * 2], "<i2")
    return bool(len(pcm)) and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > SOUND_FLOOR
