"""OpenAI Realtime speech-to-speech, on the official ``openai`` SDK's realtime client.

Protocol facts used (OpenAI API reference, "Realtime" client and server events):
one websocket per call on ``/v1/realtime?model=...`` (bearer key); the session is
configured with ``session.update`` (``type: realtime``, ``instructions``, ``tools``,
``audio.input.format`` / ``audio.output.format`` of ``audio/pcmu`` for G.711 μ-law
at 8 kHz or ``audio/pcm`` at 24 kHz, ``audio.input.turn_detection`` ``server_vad``
with ``threshold``, ``prefix_padding_ms``, ``silence_duration_ms``,
``interrupt_response``, or ``null`` for turns ended by the client,
``audio.input.transcription`` for a transcript of the caller). Audio goes up as
base64 in ``input_audio_buffer.append``; the model answers with
``response.output_audio.delta`` (base64 in the output format) and
``response.output_audio_transcript.delta``; tool calls arrive as
``response.function_call_arguments.done`` and are answered with a
``function_call_output`` item and a new ``response.create``. The server stops
generating when the caller speaks but does not know what was played: the client
sends ``conversation.item.truncate`` with the milliseconds heard.

A call on a μ-law leg is sent as μ-law (decoding and re-encoding G.711 is exact),
so neither direction is resampled.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from pydantic import SecretStr

from voxtra.media.audio import AudioChunk
from voxtra.media.g711 import ulaw_decode, ulaw_encode
from voxtra.media.resample import Resampler
from voxtra.voice.errors import ProviderError
from voxtra.voice.llm import ToolCall
from voxtra.voice.providers.credentials import api_key as api_key_of
from voxtra.voice.providers.credentials import sdk
from voxtra.voice.realtime import (
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    ModelError,
    RealtimeEvent,
    RealtimeModel,
    RealtimeOptions,
    RealtimeSession,
    ReplyAudio,
    ReplyDone,
    ReplyStarted,
    ReplyText,
    ReplyToolCall,
)

NAME = "openai-realtime"
#: The only rate of ``audio/pcm``.
PCM_RATE = 24000


class OpenAIRealtime(RealtimeModel):
    """Configured like a voice session: model, voice, language, and turn detection
    (the model's own, with its threshold, prefix padding and silence duration; or
    off, the handler ending turns with ``conversation.commit()``)."""

    def __init__(self, model: str = "gpt-realtime", *, voice: str = "alloy",
                 language: str | None = None, turn_detection: bool = True,
                 threshold: float = 0.5, prefix_padding_ms: int = 300,
                 silence_duration_ms: int = 500,
                 transcription_model: str | None = "gpt-4o-mini-transcribe",
                 api_key: str | SecretStr | None = None, base_url: str | None = None,
                 timeout: float = 10.0) -> None:
        """``api_key`` defaults to ``OPENAI_API_KEY``; ``base_url`` points the SDK at
        another server speaking the protocol. ``transcription_model`` None: no
        transcript of the caller. ``timeout`` bounds opening the websocket."""
        self.model = model
        self.voice = voice
        self.language = language
        self.turn_detection = turn_detection
        self.threshold = threshold
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.transcription_model = transcription_model
        self.base_url = base_url
        self._key = api_key_of(api_key, "OPENAI_API_KEY", NAME)
        self._timeout = timeout
        self._client: Any = None

    def __repr__(self) -> str:
        return f"OpenAIRealtime(model={self.model!r}, voice={self.voice!r})"

    def load(self) -> None:
        self._connect()

    def _connect(self) -> Any:
        if self._client is None:
            openai = sdk("openai", NAME, "openai")
            sdk("websockets", NAME, "openai")
            assert self._key is not None
            self._client = openai.AsyncOpenAI(api_key=self._key.get_secret_value(),
                                              base_url=self.base_url, timeout=self._timeout)
        return self._client

    async def check(self) -> None:
        """Open and close a session: a rejected key raises, non-retryable."""
        session = await self.connect(RealtimeOptions())
        await session.aclose()

    def session_config(self, options: RealtimeOptions) -> dict[str, Any]:
        """The ``session.update`` payload for one call."""
        audio_format = ({"type": "audio/pcmu"} if options.sample_rate == 8000
                        else {"type": "audio/pcm", "rate": PCM_RATE})
        audio_in: dict[str, Any] = {"format": audio_format, "turn_detection": None}
        if self.turn_detection:
            audio_in["turn_detection"] = {
                "type": "server_vad", "threshold": self.threshold,
                "prefix_padding_ms": self.prefix_padding_ms,
                "silence_duration_ms": self.silence_duration_ms,
                "create_response": True, "interrupt_response": options.interruptions}
        if self.transcription_model is not None:
            transcription = {"model": self.transcription_model}
            if self.language:
                transcription["language"] = self.language
            audio_in["transcription"] = transcription
        config: dict[str, Any] = {
            "type": "realtime", "model": self.model, "output_modalities": ["audio"],
            "audio": {"input": audio_in, "output": {"format": audio_format,
                                                    "voice": self.voice}}}
        instructions = options.instructions or ""
        if self.language:
            instructions += f"\nSpeak {self.language} unless the caller speaks another language."
        if instructions.strip():
            config["instructions"] = instructions.strip()
        if options.tools:
            config["tools"] = [{"type": "function", "name": tool.name,
                                "description": tool.description,
                                "parameters": tool.parameters} for tool in options.tools]
            config["tool_choice"] = "auto"
        return config

    async def connect(self, options: RealtimeOptions) -> RealtimeSession:
        client = self._connect()
        try:
            connection = await client.realtime.connect(
                model=self.model,
                websocket_connection_options={"open_timeout": self._timeout}).enter()
        except Exception as exc:
            raise _error(exc) from exc
        session = OpenAIRealtimeSession(connection, options.sample_rate)
        try:
            await connection.session.update(session=self.session_config(options))
        except Exception as exc:
            await session.aclose()
            raise _error(exc) from exc
        return session


class OpenAIRealtimeSession(RealtimeSession):
    def __init__(self, connection: Any, sample_rate: int) -> None:
        self._connection = connection
        self._ulaw = sample_rate == 8000
        self._to_model = None if self._ulaw else Resampler(sample_rate, PCM_RATE)

    async def send_audio(self, chunk: AudioChunk) -> None:
        if self._to_model is None:
            payload = ulaw_encode(chunk.pcm)
        else:
            payload = self._to_model.process(chunk.pcm).astype("<i2").tobytes()
        try:
            await self._connection.input_audio_buffer.append(
                audio=base64.b64encode(payload).decode("ascii"))
        except Exception as exc:
            raise _error(exc) from exc

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        try:
            async for event in self._connection:
                translated = self._translate(event)
                if translated is not None:
                    yield translated
        except ProviderError:
            raise
        except Exception as exc:
            raise _error(exc) from exc

    def _translate(self, event: Any) -> RealtimeEvent | None:
        kind = event.type
        if kind == "response.output_audio.delta":
            data = base64.b64decode(event.delta)
            if self._ulaw:
                return ReplyAudio(event.item_id, ulaw_decode(data), 8000)
            return ReplyAudio(event.item_id, np.frombuffer(data, dtype="<i2").astype(np.int16),
                              PCM_RATE)
        if kind == "response.output_audio_transcript.delta":
            return ReplyText(event.item_id, event.delta)
        if kind == "input_audio_buffer.speech_started":
            return CallerSpeechStarted()
        if kind == "input_audio_buffer.speech_stopped":
            return CallerSpeechStopped()
        if kind == "conversation.item.input_audio_transcription.completed":
            return CallerTranscript(event.transcript)
        if kind == "response.created":
            return ReplyStarted(event.response.id)
        if kind == "response.function_call_arguments.done":
            return ReplyToolCall(ToolCall.parse(event.call_id, event.name, event.arguments))
        if kind == "response.done":
            return ReplyDone(event.response.status or "completed")
        if kind == "error":
            error = event.error
            code = getattr(error, "code", None) or getattr(error, "type", "error")
            retryable = getattr(error, "type", "") == "server_error"
            return ModelError(ProviderError(NAME, f"{code}: {error.message}",
                                            retryable=retryable))
        return None

    async def respond(self, instructions: str | None = None) -> None:
        response = {"instructions": instructions} if instructions else {}
        await self._send(self._connection.response.create(response=response))

    async def commit(self) -> None:
        await self._send(self._connection.input_audio_buffer.commit())

    async def cancel(self) -> None:
        await self._send(self._connection.response.cancel())

    async def truncate(self, item_id: str, heard_ms: int) -> None:
        await self._send(self._connection.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=heard_ms))

    async def tool_result(self, call_id: str, output: str) -> None:
        await self._send(self._connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": call_id, "output": output}))

    async def _send(self, sending: Any) -> None:
        try:
            await sending
        except Exception as exc:
            raise _error(exc) from exc

    async def aclose(self) -> None:
        try:
            await self._connection.close()
        except Exception as exc:
            raise _error(exc) from exc


def _error(exc: Exception) -> ProviderError:
    """The SDK's and the websocket's failures as ProviderError: a rejected key (HTTP
    401/403 instead of the upgrade) cannot be helped by a retry; the rest can."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(exc, "status_code", None)
    if status in (401, 403):
        return ProviderError(NAME, f"the API key was rejected ({status})", retryable=False)
    if status is not None:
        return ProviderError(NAME, f"HTTP {status} instead of a websocket",
                             retryable=status == 429 or status >= 500)
    if isinstance(exc, TimeoutError):
        return ProviderError(NAME, "timed out connecting")
    return ProviderError(NAME, f"connection lost: {exc}" if str(exc) else repr(exc))
