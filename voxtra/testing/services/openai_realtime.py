"""A local server speaking the OpenAI Realtime API's websocket protocol, for tests of the real SDK.

Protocol facts it relies on (OpenAI API reference, "Realtime" client and server events, the
GA interface that the ``openai`` SDK's ``client.realtime.connect()`` speaks):

* The client opens a websocket on ``GET /v1/realtime?model=MODEL`` with
  ``Authorization: Bearer KEY``. A bad key is an HTTP 401 answer to the upgrade, a missing
  model an HTTP 400, both with JSON ``{"error": {"message", "type", "code"}}``.
* Every message is a JSON text frame with a ``type``; every server event has a unique
  ``event_id``. The server opens with ``session.created`` holding the whole session
  (``type: "realtime"``, ``model``, ``output_modalities``, ``instructions``,
  ``audio.input`` with ``format``, ``turn_detection``, ``transcription``,
  ``audio.output`` with ``format``, ``voice``, ``speed``, ``tools``, ``tool_choice``).
  ``session.update`` ``{session}`` carries part of a session and must say
  ``type: "realtime"``; the answer is ``session.updated`` with the whole session.
  ``turn_detection: null`` turns server VAD off.
* Audio formats: ``audio/pcm`` (16-bit little-endian mono, 24 kHz), ``audio/pcmu`` (G.711
  μ-law, 8 kHz), ``audio/pcma`` (G.711 A-law, 8 kHz). Audio travels base64 in JSON: up in
  ``input_audio_buffer.append`` ``{audio}``, down in ``response.output_audio.delta``
  ``{response_id, item_id, output_index, content_index, delta}``.
* Server VAD (``turn_detection`` of type ``server_vad`` or ``semantic_vad``, with
  ``threshold``, ``prefix_padding_ms``, ``silence_duration_ms``, ``create_response``,
  ``interrupt_response``): ``input_audio_buffer.speech_started`` ``{audio_start_ms,
  item_id}`` (ms of input audio since the session began, prefix padding included); speech
  during a response cancels it (``response.done`` with ``status: "cancelled"``,
  ``status_details: {type: "cancelled", reason: "turn_detected"}``);
  ``input_audio_buffer.speech_stopped`` ``{audio_end_ms, item_id}`` (the silence included)
  is followed by a commit of the buffer and a new response.
* A commit: ``input_audio_buffer.committed`` ``{item_id, previous_item_id}``, then
  ``conversation.item.added`` and ``conversation.item.done`` with the user message
  (``input_audio`` content, ``transcript: null``), and with ``audio.input.transcription``
  set ``conversation.item.input_audio_transcription.completed`` ``{item_id, content_index,
  transcript, usage: {type: "duration", seconds}}``. A manual
  ``input_audio_buffer.commit`` of less than 100 ms is an error
  (``input_audio_buffer_commit_empty``); ``input_audio_buffer.clear`` is answered
  ``input_audio_buffer.cleared``.
* A response: ``response.created``, ``response.output_item.added`` (and
  ``conversation.item.added``), ``response.content_part.added``, audio and
  ``response.output_audio_transcript.delta`` deltas, ``response.output_audio.done``,
  ``response.output_audio_transcript.done`` ``{transcript}``, ``response.content_part.done``,
  ``response.output_item.done`` (and ``conversation.item.done``), then ``response.done``
  whose ``response.status`` is ``completed``, ``cancelled`` or ``failed``. A function call
  streams ``response.function_call_arguments.delta`` and ``.done`` ``{call_id, name,
  arguments}`` (a JSON string) instead; the client answers with a ``conversation.item.create``
  of a ``function_call_output`` item ``{call_id, output}`` and a ``response.create``.
* ``response.cancel`` ends the active response (reason ``client_cancelled``).
  ``conversation.item.truncate`` ``{item_id, content_index, audio_end_ms}`` cuts an
  assistant item's audio at what the user heard; the answer is
  ``conversation.item.truncated``.
* Errors are ``error`` events ``{error: {type, code, message, param, event_id}}`` and leave
  the session open: ``conversation_already_has_active_response``,
  ``response_cancel_not_active``, ``item_truncate_invalid_item_id``, and
  ``invalid_request_error`` for an unknown event type or a bad message.

What the fake makes up: a 20 ms frame is speech when its RMS is at least
``threshold * 1000`` (the default 0.5 means 500 of 32767), and speech starts after
100 ms of such frames (a click at the start of a call is not speech); ``semantic_vad`` behaves as
``server_vad`` with that one's default settings; ``format`` and ``turn_detection`` in an
update replace the old value whole (the missing VAD settings take their defaults),
everything else is merged. A reply is a 440 Hz tone ``seconds_per_char`` long per
character of its text, the words of the text spread over the transcript deltas; replies
and caller transcripts come from the test's script.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from voxtra.media.g711 import Pcm, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voxtra.sandbox.audio import tone
from voxtra.sandbox.local_server import LocalServer

#: The audio formats of the protocol, with their sample rates.
RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
FREQUENCY = 440.0
VAD_FRAME_MS = 20
#: Loud audio needed before speech counts as started (a click is not speech).
MIN_SPEECH_MS = 100
MIN_COMMIT_MS = 100
#: Each turn detection type's settings, with their defaults (also what the fake's VAD
#: uses for a ``semantic_vad`` session).
VAD_DEFAULTS: dict[str, dict[str, Any]] = {
    "server_vad": {"threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
                   "create_response": True, "interrupt_response": True},
    "semantic_vad": {"eagerness": "auto", "create_response": True,
                     "interrupt_response": True}}
REPLACED_KEYS = ("format", "turn_detection")


@dataclass(frozen=True)
class ToolCallReply:
    """A response that calls the function ``name`` with ``arguments`` instead of speaking."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


Reply = str | ToolCallReply


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:22]}"


def default_session(model: str) -> dict[str, Any]:
    """The session a new connection starts with (as in ``session.created``)."""
    return {
        "type": "realtime", "object": "realtime.session", "id": new_id("sess"),
        "model": model, "output_modalities": ["audio"], "instructions": "",
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000},
                      "turn_detection": {"type": "server_vad", **VAD_DEFAULTS["server_vad"]},
                      "transcription": None},
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy",
                       "speed": 1.0}},
        "tools": [], "tool_choice": "auto"}


def decode_audio(data: bytes, format_type: str) -> Pcm:
    """Samples of ``data`` in a protocol audio format (at ``RATES[format_type]``)."""
    if format_type == "audio/pcmu":
        return ulaw_decode(data)
    if format_type == "audio/pcma":
        return alaw_decode(data)
    return np.frombuffer(data[:len(data) // 2 * 2], dtype="<i2").astype(np.int16)


def encode_audio(pcm: Pcm, format_type: str) -> bytes:
    """``pcm`` (at ``RATES[format_type]``) in a protocol audio format."""
    if format_type == "audio/pcmu":
        return ulaw_encode(pcm)
    if format_type == "audio/pcma":
        return alaw_encode(pcm)
    return pcm.astype("<i2").tobytes()


def _merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict) and key not in REPLACED_KEYS:
            _merge(current, value)
        else:
            target[key] = copy.deepcopy(value)


def _api_error(status: int, message: str, kind: str, code: str,
               param: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "code": code,
                                        "param": param}}, status=status)


class FakeRealtime(LocalServer):
    """``async with FakeRealtime(replies=["Hello."]) as server:``, then
    ``AsyncOpenAI(api_key="test-key", base_url=server.url)``.

    ``replies`` are used in turn, one per response (``"OK."`` once they run out; a
    ``{tool_output}`` in a text becomes the output of the connection's latest
    ``function_call_output`` item); ``transcripts`` one per committed user turn (then
    ``""``). Both stay public lists that the fake pops from. Reply audio lasts
    ``seconds_per_char`` per character and goes out in ``chunk_ms`` deltas, ``speed`` times
    faster than real time (0 or inf: no waiting), the first after ``first_delta_delay``.

    Failure knobs, read when a response starts and then reset: ``fail_next_response``
    (a message: that response sends an ``error`` event and ends ``failed``, leaving its
    reply for the next one) and ``drop_after_deltas`` (the next spoken response cuts the
    TCP connection after that many audio deltas, or after its last one, without a close
    frame; its record stays ``in_progress``).

    Records: ``connections`` (websockets accepted), ``queries`` and ``api_keys`` (every
    upgrade request, rejected ones too), ``session`` (as last created or updated),
    ``session_updates`` (each applied ``session`` payload), ``client_events`` (each client
    event, an append's ``audio`` replaced by ``audio_bytes``), ``appended_seconds``,
    ``speech_events`` (``("started" | "stopped", ms)``), ``truncations``,
    ``tool_outputs``, ``responses`` (``id``, ``item_id``, ``text``, ``tool``, ``request``,
    ``status``, ``audio_seconds_sent``, ``cancelled``) and ``closed`` (set whenever a
    connection ends; clear it to wait for the next).
    """

    base_path = "/v1"  # the SDK's base_url includes the API version

    def __init__(self, *, replies: Sequence[Reply] = (), transcripts: Sequence[str] = (),
                 api_key: str = "test-key", seconds_per_char: float = 0.03,
                 chunk_ms: int = 100, speed: float = 4.0,
                 first_delta_delay: float = 0.0) -> None:
        super().__init__()
        self.replies: list[Reply] = list(replies)
        self.transcripts: list[str] = list(transcripts)
        self.api_key = api_key
        self.seconds_per_char = seconds_per_char
        self.chunk_ms = chunk_ms
        self.speed = speed
        self.first_delta_delay = first_delta_delay
        self.fail_next_response: str | None = None
        self.drop_after_deltas: int | None = None
        self.connections = 0
        self.queries: list[dict[str, str]] = []
        self.api_keys: list[str | None] = []
        self.session: dict[str, Any] = {}
        self.session_updates: list[dict[str, Any]] = []
        self.client_events: list[dict[str, Any]] = []
        self.appended_seconds = 0.0
        self.truncations: list[dict[str, Any]] = []
        self.tool_outputs: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.speech_events: list[tuple[str, int]] = []
        self.closed = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/realtime", self._realtime)

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if self.replies else "OK."

    def next_transcript(self) -> str:
        return self.transcripts.pop(0) if self.transcripts else ""

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        authorization = request.headers.get("Authorization", "")
        key = authorization[7:] if authorization.startswith("Bearer ") else None
        self.queries.append(query)
        self.api_keys.append(key)
        if key != self.api_key:
            return _api_error(401, "Incorrect API key provided", "invalid_request_error",
                              "invalid_api_key")
        if not query.get("model"):
            return _api_error(400, "Missing required parameter: 'model'.",
                              "invalid_request_error", "missing_required_parameter", "model")
        ws = await self.accept_websocket(request, max_msg_size=16 * 1024 * 1024)
        if ws is None:
            return _api_error(400, "Expected a websocket upgrade.", "invalid_request_error",
                              "websocket_required")
        self.connections += 1
        connection = _Connection(self, ws, request, query["model"])
        try:
            await connection.serve()
        finally:
            await connection.stop_response()
            self.closed.set()
        return ws


class _ProtocolError(Exception):
    """A client mistake, answered with an ``error`` event."""

    def __init__(self, message: str, code: str | None = None, param: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message, self.code, self.param, self.kind = message, code, param, kind


@dataclass
class _Response:
    """One response in progress: its record and how to stop it."""

    record: dict[str, Any]
    reply: Reply
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = "client_cancelled"
    task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def item_id(self) -> str:
        return str(self.record["item_id"])


class _Connection:
    """One websocket: the session, the input audio buffer, server VAD and responses."""

    def __init__(self, server: FakeRealtime, ws: web.WebSocketResponse,
                 request: web.Request, model: str) -> None:
        self.server = server
        self.ws = ws
        self.request = request
        self.session = default_session(model)
        server.session = self.session
        self.conversation_id = new_id("conv")
        self.items: dict[str, dict[str, Any]] = {}
        self.last_item_id: str | None = None
        self.item_audio_ms: dict[str, float] = {}  # assistant audio actually sent
        self.last_tool_output = ""
        self.buffer: list[tuple[Pcm, int]] = []  # uncommitted input audio, with its rates
        self.pending = np.zeros(0, dtype=np.int16)  # input not yet a whole VAD frame
        self.pending_rate = 0
        self.audio_ms = 0.0  # input audio heard by VAD since the session began
        self.speaking = False
        self.speech_item_id = ""
        self.silence_ms = 0.0
        self.loud_ms = 0
        self.active: _Response | None = None
        self.send_lock = asyncio.Lock()
        self.handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self.on_session_update,
            "input_audio_buffer.append": self.on_input_audio_buffer_append,
            "input_audio_buffer.commit": self.on_input_audio_buffer_commit,
            "input_audio_buffer.clear": self.on_input_audio_buffer_clear,
            "conversation.item.create": self.on_conversation_item_create,
            "conversation.item.truncate": self.on_conversation_item_truncate,
            "conversation.item.delete": self.on_conversation_item_delete,
            "conversation.item.retrieve": self.on_conversation_item_retrieve,
            "response.create": self.on_response_create,
            "response.cancel": self.on_response_cancel}

    # -- plumbing

    async def serve(self) -> None:
        await self.send("session.created", session=copy.deepcopy(self.session))
        async for message in self.ws:
            if message.type is WSMsgType.TEXT:
                await self.receive(message.data)
            elif message.type is WSMsgType.BINARY:
                await self.error("Binary frames are not supported; send JSON text events.")
            else:
                break

    async def send(self, kind: str, **fields: Any) -> None:
        event = {"type": kind, "event_id": new_id("event"), **fields}
        async with self.send_lock:
            if self.ws.closed:
                return
            with contextlib.suppress(ConnectionError):
                await self.ws.send_json(event)

    async def error(self, message: str, code: str | None = None, param: str | None = None,
                    kind: str = "invalid_request_error", event_id: str | None = None) -> None:
        await self.send("error", error={"type": kind, "code": code, "message": message,
                                        "param": param, "event_id": event_id})

    async def receive(self, data: str) -> None:
        try:
            event = json.loads(data)
        except ValueError as exc:
            await self.error(f"Invalid JSON: {exc}", code="invalid_json")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self.error("An event must be a JSON object with a string 'type'.",
                             code="invalid_event", param="type")
            return
        recorded = dict(event)
        if event["type"] == "input_audio_buffer.append" and "audio" in recorded:
            audio = recorded.pop("audio")
            recorded["audio_bytes"] = len(_b64decode(audio)) if isinstance(audio, str) else 0
        self.server.client_events.append(recorded)
        client_id = event.get("event_id")
        handler = self.handlers.get(event["type"])
        try:
            if handler is None:
                raise _ProtocolError(f"Invalid value: '{event['type']}'. Unknown client "
                                     "event type.", code="invalid_value", param="type")
            await handler(event)
        except _ProtocolError as exc:
            await self.error(exc.message, exc.code, exc.param, exc.kind,
                             client_id if isinstance(client_id, str) else None)
        except Exception as exc:  # a fake's bug must not kill the connection
            await self.error(f"The fake failed: {exc!r}", "server_error", kind="server_error")

    def add_item(self, item: dict[str, Any]) -> str | None:
        """Put ``item`` in the conversation; the id of the item before it."""
        previous = self.last_item_id
        self.items[item["id"]] = item
        self.last_item_id = item["id"]
        return previous

    # -- session

    async def on_session_update(self, event: dict[str, Any]) -> None:
        update = event.get("session")
        if not isinstance(update, dict) or update.get("type") != "realtime":
            raise _ProtocolError("Invalid value: session.type must be 'realtime'.",
                                 "invalid_value", "session.type")
        merged = copy.deepcopy(self.session)
        _merge(merged, update)
        audio = merged.get("audio")
        for side in ("input", "output"):
            config = audio.get(side) if isinstance(audio, dict) else None
            fmt = config.get("format") if isinstance(config, dict) else None
            if not isinstance(fmt, dict) or fmt.get("type") not in RATES:
                raise _ProtocolError(f"Invalid audio format: expected one of {list(RATES)}.",
                                     "invalid_value", f"session.audio.{side}.format")
            if fmt["type"] == "audio/pcm":
                fmt.setdefault("rate", RATES["audio/pcm"])
        detection = merged["audio"]["input"].get("turn_detection")
        if isinstance(detection, dict):
            defaults = VAD_DEFAULTS.get(str(detection.get("type")))
            if defaults is None:
                raise _ProtocolError("Invalid turn_detection type: expected one of "
                                     f"{list(VAD_DEFAULTS)}.", "invalid_value",
                                     "session.audio.input.turn_detection.type")
            for key, value in defaults.items():
                detection.setdefault(key, value)
        self.session.clear()
        self.session.update(merged)
        self.server.session = self.session
        self.server.session_updates.append(update)
        if self.vad() is None:
            self.speaking = False
        await self.send("session.updated", session=copy.deepcopy(self.session))

    def vad(self) -> dict[str, Any] | None:
        detection = self.session["audio"]["input"].get("turn_detection")
        if isinstance(detection, dict) and detection.get("type") in VAD_DEFAULTS:
            return {**VAD_DEFAULTS["server_vad"], **detection}
        return None

    def format_type(self, side: str) -> str:
        return str(self.session["audio"][side]["format"]["type"])

    # -- input audio

    async def on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise _ProtocolError("Missing required parameter: 'audio'.",
                                 "missing_required_parameter", "audio")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _ProtocolError("Invalid 'audio': not base64.", "invalid_value",
                                 "audio") from exc
        fmt = self.format_type("input")
        pcm, rate = decode_audio(data, fmt), RATES[fmt]
        self.server.appended_seconds += len(pcm) / rate
        if rate != self.pending_rate:
            self.buffer_add(self.pending, self.pending_rate)
            self.pending, self.pending_rate = pcm[:0], rate
        samples = np.concatenate([self.pending, pcm])
        vad = self.vad()
        if vad is None:
            self.buffer_add(samples, rate)
            self.audio_ms += len(samples) * 1000 / rate
            self.pending = samples[:0]
            return
        frame = rate * VAD_FRAME_MS // 1000
        count = len(samples) // frame
        self.pending = samples[count * frame:]
        frames = samples[:count * frame].reshape(count, frame).astype(np.float64)
        loud = np.sqrt(np.mean(frames ** 2, axis=1)) >= float(vad["threshold"]) * 1000
        for index in range(count):
            self.buffer_add(samples[index * frame:(index + 1) * frame], rate)
            await self.vad_frame(bool(loud[index]), vad)

    def buffer_add(self, pcm: Pcm, rate: int) -> None:
        if len(pcm):
            self.buffer.append((pcm, rate))

    def buffer_ms(self) -> float:
        return sum(len(pcm) * 1000 / rate for pcm, rate in self.buffer)

    def buffer_keep_last(self, ms: float) -> None:
        """Drop the buffer's audio older than its last ``ms``."""
        excess = self.buffer_ms() - ms
        while self.buffer and excess > 0:
            pcm, rate = self.buffer[0]
            cut = min(len(pcm), round(excess * rate / 1000))
            if cut <= 0:
                break
            excess -= cut * 1000 / rate
            if cut == len(pcm):
                self.buffer.pop(0)
            else:
                self.buffer[0] = (pcm[cut:], rate)

    async def vad_frame(self, loud: bool, vad: dict[str, Any]) -> None:
        start = self.audio_ms
        self.audio_ms += VAD_FRAME_MS
        if loud:
            self.silence_ms = 0
            self.loud_ms += VAD_FRAME_MS
            if self.speaking or self.loud_ms < MIN_SPEECH_MS:
                return
            self.speaking, self.speech_item_id = True, new_id("item")
            padding = int(vad["prefix_padding_ms"])
            start -= MIN_SPEECH_MS - VAD_FRAME_MS
            audio_start_ms = max(0, round(start) - padding)
            self.buffer_keep_last(MIN_SPEECH_MS + padding)
            self.server.speech_events.append(("started", audio_start_ms))
            await self.send("input_audio_buffer.speech_started",
                            audio_start_ms=audio_start_ms, item_id=self.speech_item_id)
            if self.active is not None and vad.get("interrupt_response", True):
                await self.cancel("turn_detected")
            return
        self.loud_ms = 0
        if self.speaking:
            self.silence_ms += VAD_FRAME_MS
            if self.silence_ms < int(vad["silence_duration_ms"]):
                return
            self.speaking = False
            audio_end_ms = round(self.audio_ms)
            self.server.speech_events.append(("stopped", audio_end_ms))
            await self.send("input_audio_buffer.speech_stopped", audio_end_ms=audio_end_ms,
                            item_id=self.speech_item_id)
            await self.commit(self.speech_item_id)
            if vad.get("create_response", True) and self.active is None:
                self.start_response(None)

    async def commit(self, item_id: str) -> None:
        seconds = self.buffer_ms() / 1000
        self.buffer = []
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "user",
                "status": "completed", "content": [{"type": "input_audio", "transcript": None}]}
        previous = self.add_item(item)
        await self.send("input_audio_buffer.committed", item_id=item_id,
                        previous_item_id=previous)
        await self.send("conversation.item.added", previous_item_id=previous, item=item)
        await self.send("conversation.item.done", previous_item_id=previous, item=item)
        transcription = self.session["audio"]["input"].get("transcription")
        if isinstance(transcription, dict) and transcription.get("model"):
            await self.send("conversation.item.input_audio_transcription.completed",
                            item_id=item_id, content_index=0,
                            transcript=self.server.next_transcript(),
                            usage={"type": "duration", "seconds": round(seconds, 3)})

    async def on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        self.buffer_add(self.pending, self.pending_rate)
        self.pending = self.pending[:0]
        buffered = self.buffer_ms()
        if buffered < MIN_COMMIT_MS:
            raise _ProtocolError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered:.2f}ms of audio.",
                "input_audio_buffer_commit_empty")
        item_id = self.speech_item_id if self.speaking else new_id("item")
        self.speaking = False
        await self.commit(item_id)

    async def on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self.buffer, self.pending, self.speaking = [], self.pending[:0], False
        await self.send("input_audio_buffer.cleared")

    # -- conversation items

    async def on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise _ProtocolError("Missing required parameter: 'item.type'.",
                                 "missing_required_parameter", "item.type")
        item = copy.deepcopy(item)
        item.setdefault("id", new_id("item"))
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        if item["type"] == "function_call_output":
            self.server.tool_outputs.append(item)
            self.last_tool_output = str(item.get("output", ""))
        previous = self.add_item(item)
        if isinstance(event.get("previous_item_id"), str):
            previous = event["previous_item_id"]
        await self.send("conversation.item.added", previous_item_id=previous, item=item)
        await self.send("conversation.item.done", previous_item_id=previous, item=item)

    async def on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        self.server.truncations.append(event)
        item_id, end = event.get("item_id"), event.get("audio_end_ms")
        if not isinstance(item_id, str) or item_id not in self.item_audio_ms:
            raise _ProtocolError(f"Invalid 'item_id': no assistant audio item {item_id!r}.",
                                 "item_truncate_invalid_item_id", "item_id")
        if not isinstance(end, int) or end < 0:
            raise _ProtocolError("Invalid 'audio_end_ms': expected a non-negative integer.",
                                 "invalid_value", "audio_end_ms")
        sent = self.item_audio_ms[item_id]
        if end > math.ceil(sent):
            raise _ProtocolError(f"audio_end_ms ({end}) is greater than the audio duration "
                                 f"of the item ({sent:.0f}ms).", "invalid_value",
                                 "audio_end_ms")
        await self.send("conversation.item.truncated", item_id=item_id,
                        content_index=event.get("content_index", 0), audio_end_ms=end)

    async def on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str) or self.items.pop(item_id, None) is None:
            raise _ProtocolError(f"Invalid 'item_id': no item {item_id!r}.",
                                 "item_delete_invalid_item_id", "item_id")
        await self.send("conversation.item.deleted", item_id=item_id)

    async def on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self.items.get(str(event.get("item_id")))
        if item is None:
            raise _ProtocolError(f"Invalid 'item_id': no item {event.get('item_id')!r}.",
                                 "item_retrieve_invalid_item_id", "item_id")
        await self.send("conversation.item.retrieved", item=item)

    # -- responses

    async def on_response_create(self, event: dict[str, Any]) -> None:
        if self.active is not None:
            raise _ProtocolError(
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
                "conversation_already_has_active_response")
        request = event.get("response")
        self.start_response(request if isinstance(request, dict) else None)

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        if self.active is None:
            raise _ProtocolError("Cancellation failed: no active response found",
                                 "response_cancel_not_active")
        await self.cancel("client_cancelled")

    def start_response(self, request: dict[str, Any] | None) -> None:
        server = self.server
        failure, server.fail_next_response = server.fail_next_response, None
        reply: Reply = server.next_reply() if failure is None else ""
        if isinstance(reply, str):
            reply = reply.replace("{tool_output}", self.last_tool_output)
        record: dict[str, Any] = {
            "id": new_id("resp"), "item_id": new_id("item"),
            "text": reply if isinstance(reply, str) else "",
            "tool": reply.name if isinstance(reply, ToolCallReply) else None,
            "request": request, "status": "in_progress", "audio_seconds_sent": 0.0,
            "cancelled": False}
        server.responses.append(record)
        response = _Response(record, reply)
        self.active = response
        response.task = asyncio.create_task(self.run(response, failure))

    async def cancel(self, reason: str) -> None:
        """Stop the active response; returns once its ``response.done`` is out."""
        response = self.active
        if response is None:
            return
        response.reason = reason
        response.stop.set()
        if response.task is not None and response.task is not asyncio.current_task():
            await asyncio.shield(response.task)

    async def stop_response(self) -> None:
        """The connection ended: abandon the active response."""
        response, self.active = self.active, None
        if response is not None and response.task is not None and not response.task.done():
            response.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await response.task

    async def run(self, response: _Response, failure: str | None) -> None:
        try:
            await self.send("response.created", response=self.response_object(
                response, "in_progress", []))
            if failure is not None:
                await self.fail(response, failure)
            elif isinstance(response.reply, ToolCallReply):
                await self.call_tool(response, response.reply)
            else:
                await self.speak(response, response.reply)
        except Exception as exc:  # a fake's bug must not kill the connection
            await self.error(f"The fake failed: {exc!r}", "server_error", kind="server_error")
        finally:
            if self.active is response:
                self.active = None

    def response_object(self, response: _Response, status: str, output: list[dict[str, Any]],
                        details: dict[str, Any] | None = None,
                        usage: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"id": response.id, "object": "realtime.response", "status": status,
                "status_details": details, "output": output,
                "conversation_id": self.conversation_id,
                "output_modalities": ["audio"], "max_output_tokens": "inf",
                "audio": {"output": {"format": self.session["audio"]["output"]["format"],
                                     "voice": self.session["audio"]["output"]["voice"]}},
                "usage": usage, "metadata": None}

    async def done(self, response: _Response, status: str, output: list[dict[str, Any]],
                   details: dict[str, Any] | None = None, output_tokens: int = 0) -> None:
        response.record["status"] = status
        response.record["cancelled"] = status == "cancelled"
        usage = {"total_tokens": 20 + output_tokens, "input_tokens": 20,
                 "output_tokens": output_tokens,
                 "input_token_details": {"text_tokens": 10, "audio_tokens": 10,
                                         "cached_tokens": 0},
                 "output_token_details": {"text_tokens": output_tokens // 5,
                                          "audio_tokens": output_tokens - output_tokens // 5}}
        if self.active is response:
            self.active = None
        await self.send("response.done", response=self.response_object(
            response, status, output, details, usage))

    async def cancelled(self, response: _Response, output: list[dict[str, Any]]) -> None:
        await self.done(response, "cancelled", output,
                        {"type": "cancelled", "reason": response.reason})

    async def fail(self, response: _Response, message: str) -> None:
        error = {"type": "server_error", "code": "server_error", "message": message}
        await self.send("error", error={**error, "param": None, "event_id": None})
        await self.done(response, "failed", [], {"type": "failed", "error": error})

    async def wait(self, response: _Response, seconds: float) -> bool:
        """Sleep up to ``seconds`` (at least yield); whether the response was stopped."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(response.stop.wait(), seconds)
        else:
            await asyncio.sleep(0)
        return response.stop.is_set()

    def interval(self) -> float:
        speed = self.server.speed
        return 0.0 if speed == 0 or math.isinf(speed) else self.server.chunk_ms / 1000 / speed

    async def call_tool(self, response: _Response, reply: ToolCallReply) -> None:
        arguments = json.dumps(reply.arguments)
        item: dict[str, Any] = {"id": response.item_id, "object": "realtime.item",
                                "type": "function_call", "status": "in_progress",
                                "call_id": new_id("call"), "name": reply.name,
                                "arguments": ""}
        previous = self.add_item(item)
        common = {"response_id": response.id, "item_id": item["id"], "output_index": 0}
        await self.send("response.output_item.added", response_id=response.id,
                        output_index=0, item=dict(item))
        await self.send("conversation.item.added", previous_item_id=previous, item=dict(item))
        if await self.wait(response, self.server.first_delta_delay):
            item["status"] = "incomplete"
            await self.send("response.output_item.done", response_id=response.id,
                            output_index=0, item=dict(item))
            await self.cancelled(response, [item])
            return
        await self.send("response.function_call_arguments.delta", **common,
                        call_id=item["call_id"], delta=arguments)
        await self.send("response.function_call_arguments.done", **common,
                        call_id=item["call_id"], name=reply.name, arguments=arguments)
        item.update(status="completed", arguments=arguments)
        await self.send("response.output_item.done", response_id=response.id,
                        output_index=0, item=dict(item))
        await self.send("conversation.item.done", previous_item_id=previous, item=dict(item))
        await self.done(response, "completed", [item], output_tokens=len(arguments) // 4 + 1)

    async def speak(self, response: _Response, text: str) -> None:
        server = self.server
        fmt = self.format_type("output")
        rate = RATES[fmt]
        pcm = tone(FREQUENCY, len(text) * server.seconds_per_char, rate)
        step = max(1, rate * server.chunk_ms // 1000)
        chunks = [pcm[start:start + step] for start in range(0, len(pcm), step)]
        words = re.findall(r"\s*\S+\s*", text)
        drop_after, server.drop_after_deltas = server.drop_after_deltas, None
        item: dict[str, Any] = {"id": response.item_id, "object": "realtime.item",
                                "type": "message", "role": "assistant",
                                "status": "in_progress", "content": []}
        previous = self.add_item(item)
        self.item_audio_ms[item["id"]] = 0.0
        common = {"response_id": response.id, "item_id": item["id"], "output_index": 0,
                  "content_index": 0}
        await self.send("response.output_item.added", response_id=response.id,
                        output_index=0, item=copy.deepcopy(item))
        await self.send("conversation.item.added", previous_item_id=previous,
                        item=copy.deepcopy(item))
        await self.send("response.content_part.added", **common,
                        part={"type": "audio", "transcript": ""})
        stopped = await self.wait(response, server.first_delta_delay)
        said, sent_samples, word_index = "", 0, 0
        started = time.monotonic()
        for index, chunk in enumerate(chunks):
            if stopped:
                break
            if drop_after is not None and index >= drop_after:
                break
            await self.send("response.output_audio.delta", **common,
                            delta=base64.b64encode(encode_audio(chunk, fmt)).decode("ascii"))
            sent_samples += len(chunk)
            self.item_audio_ms[item["id"]] = sent_samples * 1000 / rate
            response.record["audio_seconds_sent"] = sent_samples / rate
            while word_index < len(words) and word_index * len(chunks) <= index * len(words):
                said += words[word_index]
                await self.send("response.output_audio_transcript.delta", **common,
                                delta=words[word_index])
                word_index += 1
            delay = started + (index + 1) * self.interval() - time.monotonic()
            stopped = await self.wait(response, delay)
        if drop_after is not None and not stopped:
            transport = self.request.transport
            if transport is not None:
                transport.close()  # no close frame: the connection just ends
            return
        if not stopped:
            for word in words[word_index:]:
                said += word
                await self.send("response.output_audio_transcript.delta", **common,
                                delta=word)
        status = "incomplete" if stopped else "completed"
        content = {"type": "output_audio", "transcript": said}
        await self.send("response.output_audio.done", **common)
        await self.send("response.output_audio_transcript.done", **common, transcript=said)
        await self.send("response.content_part.done", **common,
                        part={"type": "audio", "transcript": said})
        item.update(status=status, content=[content])
        await self.send("response.output_item.done", response_id=response.id,
                        output_index=0, item=copy.deepcopy(item))
        await self.send("conversation.item.done", previous_item_id=previous,
                        item=copy.deepcopy(item))
        tokens = len(words) + round(sent_samples / rate * 20)
        if stopped:
            await self.cancelled(response, [item])
        else:
            await self.done(response, "completed", [item], output_tokens=tokens)


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError):
        return b""
