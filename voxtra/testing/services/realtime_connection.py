"""One websocket of the local Realtime server: the session, the input audio buffer with
its server VAD, conversation items, and (from :class:`Responses`) the responses."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import WSMsgType, web

from voxtra.media.audio import Pcm
from voxtra.testing.services.realtime_protocol import (
    MIN_COMMIT_MS,
    MIN_SPEECH_MS,
    RATES,
    VAD_DEFAULTS,
    VAD_FRAME_MS,
    ClientEventError,
    b64decode,
    decode_audio,
    default_session,
    merge,
    new_id,
)
from voxtra.testing.services.realtime_responses import Response, Responses

if TYPE_CHECKING:
    from voxtra.testing.services.openai_realtime import FakeRealtime


class Connection(Responses):
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
        self.active: Response | None = None
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
            recorded["audio_bytes"] = len(b64decode(audio)) if isinstance(audio, str) else 0
        self.server.client_events.append(recorded)
        client_id = event.get("event_id")
        handler = self.handlers.get(event["type"])
        try:
            if handler is None:
                raise ClientEventError(f"Invalid value: '{event['type']}'. Unknown client "
                                     "event type.", code="invalid_value", param="type")
            await handler(event)
        except ClientEventError as exc:
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
            raise ClientEventError("Invalid value: session.type must be 'realtime'.",
                                 "invalid_value", "session.type")
        merged = copy.deepcopy(self.session)
        merge(merged, update)
        audio = merged.get("audio")
        for side in ("input", "output"):
            config = audio.get(side) if isinstance(audio, dict) else None
            fmt = config.get("format") if isinstance(config, dict) else None
            if not isinstance(fmt, dict) or fmt.get("type") not in RATES:
                raise ClientEventError(f"Invalid audio format: expected one of {list(RATES)}.",
                                     "invalid_value", f"session.audio.{side}.format")
            if fmt["type"] == "audio/pcm":
                fmt.setdefault("rate", RATES["audio/pcm"])
        detection = merged["audio"]["input"].get("turn_detection")
        if isinstance(detection, dict):
            defaults = VAD_DEFAULTS.get(str(detection.get("type")))
            if defaults is None:
                raise ClientEventError("Invalid turn_detection type: expected one of "
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
            raise ClientEventError("Missing required parameter: 'audio'.",
                                 "missing_required_parameter", "audio")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ClientEventError("Invalid 'audio': not base64.", "invalid_value",
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
            raise ClientEventError(
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
            raise ClientEventError("Missing required parameter: 'item.type'.",
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
            raise ClientEventError(f"Invalid 'item_id': no assistant audio item {item_id!r}.",
                                 "item_truncate_invalid_item_id", "item_id")
        if not isinstance(end, int) or end < 0:
            raise ClientEventError("Invalid 'audio_end_ms': expected a non-negative integer.",
                                 "invalid_value", "audio_end_ms")
        sent = self.item_audio_ms[item_id]
        if end > math.ceil(sent):
            raise ClientEventError(f"audio_end_ms ({end}) is greater than the audio duration "
                                 f"of the item ({sent:.0f}ms).", "invalid_value",
                                 "audio_end_ms")
        await self.send("conversation.item.truncated", item_id=item_id,
                        content_index=event.get("content_index", 0), audio_end_ms=end)

    async def on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str) or self.items.pop(item_id, None) is None:
            raise ClientEventError(f"Invalid 'item_id': no item {item_id!r}.",
                                 "item_delete_invalid_item_id", "item_id")
        await self.send("conversation.item.deleted", item_id=item_id)

    async def on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self.items.get(str(event.get("item_id")))
        if item is None:
            raise ClientEventError(f"Invalid 'item_id': no item {event.get('item_id')!r}.",
                                 "item_retrieve_invalid_item_id", "item_id")
        await self.send("conversation.item.retrieved", item=item)

    # -- responses

    async def on_response_create(self, event: dict[str, Any]) -> None:
        if self.active is not None:
            raise ClientEventError(
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
                "conversation_already_has_active_response")
        request = event.get("response")
        self.start_response(request if isinstance(request, dict) else None)

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        if self.active is None:
            raise ClientEventError("Cancellation failed: no active response found",
                                 "response_cancel_not_active")
        await self.cancel("client_cancelled")
