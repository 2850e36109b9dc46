"""The local Realtime server's responses: spoken (a tone, with the words of the reply's
text in the transcript deltas) or a function call, cancelled by the client or by the
caller's speech, failed on request."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from voxtra.sandbox.audio import tone
from voxtra.testing.services.realtime_protocol import (
    FREQUENCY,
    RATES,
    Reply,
    ToolCallReply,
    encode_audio,
    new_id,
)

if TYPE_CHECKING:
    from voxtra.testing.services.openai_realtime import FakeRealtime


@dataclass
class Response:
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


class Responses:
    """The response half of a connection (``realtime_connection.Connection``); what it
    needs of the other half is declared here."""

    server: FakeRealtime
    request: web.Request
    session: dict[str, Any]
    conversation_id: str
    item_audio_ms: dict[str, float]
    last_tool_output: str
    active: Response | None

    async def send(self, kind: str, **fields: Any) -> None:
        raise NotImplementedError

    async def error(self, message: str, code: str | None = None, param: str | None = None,
                    kind: str = "invalid_request_error", event_id: str | None = None) -> None:
        raise NotImplementedError

    def add_item(self, item: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def format_type(self, side: str) -> str:
        raise NotImplementedError

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
        response = Response(record, reply)
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

    async def run(self, response: Response, failure: str | None) -> None:
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

    def response_object(self, response: Response, status: str, output: list[dict[str, Any]],
                        details: dict[str, Any] | None = None,
                        usage: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"id": response.id, "object": "realtime.response", "status": status,
                "status_details": details, "output": output,
                "conversation_id": self.conversation_id,
                "output_modalities": ["audio"], "max_output_tokens": "inf",
                "audio": {"output": {"format": self.session["audio"]["output"]["format"],
                                     "voice": self.session["audio"]["output"]["voice"]}},
                "usage": usage, "metadata": None}

    async def done(self, response: Response, status: str, output: list[dict[str, Any]],
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

    async def cancelled(self, response: Response, output: list[dict[str, Any]]) -> None:
        await self.done(response, "cancelled", output,
                        {"type": "cancelled", "reason": response.reason})

    async def fail(self, response: Response, message: str) -> None:
        error = {"type": "server_error", "code": "server_error", "message": message}
        await self.send("error", error={**error, "param": None, "event_id": None})
        await self.done(response, "failed", [], {"type": "failed", "error": error})

    async def wait(self, response: Response, seconds: float) -> bool:
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

    async def call_tool(self, response: Response, reply: ToolCallReply) -> None:
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

    async def speak(self, response: Response, text: str) -> None:
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
