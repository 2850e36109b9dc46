"""Chat models over the OpenAI chat-completions API, on the official ``openai`` SDK.

The same provider serves OpenAI and any OpenAI-compatible server (Ollama, vLLM,
llama.cpp's server, LM Studio): give ``base_url`` (``http://127.0.0.1:11434/v1``
for Ollama) and a model it serves. Replies are streamed (``stream=True``: server-sent
``chat.completion.chunk`` events); tool calls arrive as fragments per ``index``
(``id`` and ``function.name`` first, ``function.arguments`` in pieces) and are
put together here. Errors become :class:`ProviderError`: a rejected key or a bad
request cannot be helped by a retry, a timeout, a rate limit or a 5xx can.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import SecretStr

from voxtra.voice.errors import ProviderError
from voxtra.voice.llm import LLM, ChatMessage, LLMDelta, Tool, ToolCall
from voxtra.voice.providers.credentials import api_key as api_key_of
from voxtra.voice.providers.credentials import sdk

NAME = "openai"


class OpenAILLM(LLM):
    def __init__(self, model: str = "gpt-4o-mini", *, api_key: str | SecretStr | None = None,
                 base_url: str | None = None, temperature: float | None = None,
                 timeout: float = 10.0, max_retries: int = 1) -> None:
        """``api_key`` defaults to ``OPENAI_API_KEY``; a local server (``base_url``)
        that wants no key may go without. ``timeout`` bounds connecting and each read."""
        # A local server (base_url) may want no key.
        key = api_key_of(api_key, "OPENAI_API_KEY", NAME, required=base_url is None)
        self.model = model
        self.base_url = base_url
        self.temperature = temperature
        self._key = key or SecretStr("none")
        self._timeout = timeout
        self._max_retries = max_retries
        self._client: Any = None

    def __repr__(self) -> str:
        return f"OpenAILLM(model={self.model!r}, base_url={self.base_url!r})"

    def load(self) -> None:
        self._connect()

    def _connect(self) -> Any:
        if self._client is None:
            openai = sdk("openai", NAME, "openai")
            self._client = openai.AsyncOpenAI(api_key=self._key.get_secret_value(),
                                              base_url=self.base_url, timeout=self._timeout,
                                              max_retries=self._max_retries)
        return self._client

    async def check(self) -> None:
        """Ask the server for its models: a rejected key raises, non-retryable."""
        try:
            await self._connect().models.list()
        except Exception as exc:
            raise _error(exc) from exc

    async def stream(self, messages: Sequence[ChatMessage],
                     tools: Sequence[Tool] = ()) -> AsyncIterator[LLMDelta]:
        options: dict[str, Any] = {}
        if tools:
            options["tools"] = [tool.schema() for tool in tools]
        if self.temperature is not None:
            options["temperature"] = self.temperature
        calls: dict[int, dict[str, str]] = {}
        try:
            stream = await self._connect().chat.completions.create(
                model=self.model, messages=[_wire(m) for m in messages], stream=True,
                **options)
            async with stream:
                async for chunk in stream:
                    if not chunk.choices:
                        continue
                    delta = chunk.choices[0].delta
                    if delta.content:
                        yield LLMDelta(delta.content)
                    for fragment in delta.tool_calls or ():
                        call = calls.setdefault(fragment.index,
                                                {"id": "", "name": "", "arguments": ""})
                        call["id"] = fragment.id or call["id"]
                        if fragment.function is not None:
                            call["name"] += fragment.function.name or ""
                            call["arguments"] += fragment.function.arguments or ""
        except ProviderError:
            raise
        except Exception as exc:
            raise _error(exc) from exc
        if calls:
            yield LLMDelta(tool_calls=tuple(
                ToolCall.parse(calls[i]["id"], calls[i]["name"], calls[i]["arguments"])
                for i in sorted(calls)))


def _wire(message: ChatMessage) -> dict[str, Any]:
    """A message in the chat-completions request shape."""
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
            for call in message.tool_calls]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _error(exc: Exception) -> ProviderError:
    """The SDK's exceptions as ProviderError, saying whether a retry can help."""
    import openai

    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderError(NAME, f"the API key was rejected ({status})", retryable=False)
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(NAME, "timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(NAME, f"connection failed: {exc}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        retryable = status == 429 or (status or 0) >= 500
        return ProviderError(NAME, f"HTTP {status}: {exc.message}", retryable=retryable)
    return ProviderError(NAME, str(exc) or repr(exc), retryable=True)
