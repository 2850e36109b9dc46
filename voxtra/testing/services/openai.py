"""A local server speaking the OpenAI chat-completions protocol, for tests of the real SDK.

Protocol facts it relies on (OpenAI API reference, "Chat completions" and "Streaming"):
``POST /v1/chat/completions`` with ``Authorization: Bearer KEY`` and a JSON body
(``model``, ``messages``, ``tools``, ``stream``); with ``stream: true`` the answer is
``text/event-stream``: ``data: {chat.completion.chunk}`` events whose
``choices[0].delta`` holds ``content`` pieces or ``tool_calls`` fragments (``index``,
then ``id``/``function.name``, then ``function.arguments`` pieces), a last chunk with
``finish_reason``, then ``data: [DONE]``. ``GET /v1/models`` lists models. Errors are
JSON ``{"error": {"message", "type", "code"}}`` with the HTTP status (401 bad key).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from voxtra.sandbox.local_server import LocalServer


@dataclass(frozen=True)
class ToolCallReply:
    """A reply that calls ``name`` with ``arguments`` (sent in two fragments)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


Reply = str | ToolCallReply


class FakeOpenAI(LocalServer):
    """``async with FakeOpenAI(["Hello."]) as server:``, then ``base_url=server.url``.

    ``replies`` are used in turn (the last one again when they run out); ``requests``
    records each request body. A reply's first token comes ``first_token_delay`` after
    the request and each further one ``token_delay`` after the one before (a model's
    pace: 1/60 s is 60 tokens a second). ``reject_key``, ``fail_status`` and
    ``drop_after_chunks`` make it misbehave.
    """

    base_path = "/v1"  # the SDK's base_url includes the API version

    def __init__(self, replies: list[Reply] | None = None, *, api_key: str = "test-key",
                 reject_key: bool = False, fail_status: int | None = None,
                 first_token_delay: float = 0.0, token_delay: float = 0.0,
                 drop_after_chunks: int | None = None) -> None:
        super().__init__()
        self.replies = list(replies or ["OK."])
        self.api_key = api_key
        self.reject_key = reject_key
        self.fail_status = fail_status
        self.first_token_delay = first_token_delay
        self.token_delay = token_delay
        self.drop_after_chunks = drop_after_chunks
        self.requests: list[dict[str, Any]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)

    def _refusal(self, request: web.Request) -> web.Response | None:
        if self.reject_key or request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error",
                          "invalid_api_key")
        if self.fail_status is not None:
            return _error(self.fail_status, "The server had an error.", "server_error", None)
        return None

    async def _models(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        return refusal or web.json_response(
            {"object": "list", "data": [{"id": "fake-model", "object": "model",
                                         "created": 0, "owned_by": "voxtra"}]})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        body = await request.json()
        self.requests.append(body)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(self.first_token_delay)
        for index, delta in enumerate(_deltas(reply)):
            if self.drop_after_chunks is not None and index >= self.drop_after_chunks:
                assert request.transport is not None
                request.transport.close()  # the connection drops mid-reply
                return response
            if index > 1 and self.token_delay:  # the role chunk and first token go at once
                await asyncio.sleep(self.token_delay)
            await response.write(_event(_chunk(body["model"], delta, None)))
        finish = "tool_calls" if isinstance(reply, ToolCallReply) else "stop"
        await response.write(_event(_chunk(body["model"], {}, finish)))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    if isinstance(reply, str):
        words = reply.split(" ")
        return [{"role": "assistant", "content": ""}] + [
            {"content": word if i == 0 else " " + word} for i, word in enumerate(words)]
    arguments = json.dumps(reply.arguments)
    half = len(arguments) // 2
    return [
        {"role": "assistant", "content": None, "tool_calls": [{
            "index": 0, "id": "call_fake1", "type": "function",
            "function": {"name": reply.name, "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": arguments[:half]}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]},
    ]


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def _error(status: int, message: str, kind: str, code: str | None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "param": None,
                                        "code": code}}, status=status)
