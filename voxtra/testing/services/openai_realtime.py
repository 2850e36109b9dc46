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
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from voxtra.sandbox.local_server import LocalServer
from voxtra.testing.services.realtime_connection import Connection
from voxtra.testing.services.realtime_protocol import Reply, ToolCallReply

__all__ = ["FakeRealtime", "Reply", "ToolCallReply"]


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
        connection = Connection(self, ws, request, query["model"])
        try:
            await connection.serve()
        finally:
            await connection.stop_response()
            self.closed.set()
        return ws
