"""Streaming text to speech with ElevenLabs, on the official ``elevenlabs`` SDK.

Each sentence is one ``POST /v1/text-to-speech/{voice_id}/stream`` (the SDK's
``AsyncElevenLabs.text_to_speech.stream``): ``output_format`` in the query, ``text``,
``model_id`` and ``voice_settings`` in the JSON body, the key in ``xi-api-key``. The
answer is the audio, sent chunked as it is made, and played as it arrives: ``pcm_{rate}``
is raw mono 16-bit little-endian samples, ``ulaw_8000`` raw G.711 μ-law bytes (decoded
here; at 8 kHz it needs no resampling for a μ-law call leg). Closing the iterator
(barge-in) closes the HTTP response, which ends the generation.

Errors are JSON ``{"detail": {"status", "message"}}``; they become :class:`ProviderError`:
401 (a bad key, but also ``quota_exceeded`` or ``missing_permissions``), 400, 404 and 422
cannot be helped by a retry; 429, 5xx, timeouts and dropped connections can.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np
from pydantic import SecretStr

from voxtra.media.audio import Pcm
from voxtra.media.g711 import alaw_decode, ulaw_decode
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.credentials import api_key as api_key_of
from voxtra.voice.providers.credentials import sdk
from voxtra.voice.tts import TTS

NAME = "elevenlabs"

#: Output formats that need no decoder beyond G.711: codec and sample rate.
FORMATS: dict[str, tuple[str, int]] = {
    **{f"pcm_{rate}": ("pcm", rate)
       for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000)},
    "ulaw_8000": ("ulaw", 8000),
    "alaw_8000": ("alaw", 8000),
}
#: "George", a premade voice every account has.
DEFAULT_VOICE = "JBFqnCBsd6RMkjVDRZzb"
#: Audio is handed on in pieces of this length (the SDK re-chunks the body to a byte count).
CHUNK_SECONDS = 0.04


class ElevenLabsTTS(TTS):
    """An ElevenLabs voice. ``output_format`` is ``pcm_16000`` (wideband), ``pcm_8000`` or
    ``ulaw_8000`` for the telephone; other ``pcm_*`` rates are resampled downstream.

    ``api_key`` defaults to ``ELEVENLABS_API_KEY``. ``base_url`` is the API's root (the
    SDK adds ``/v1/...``), for a proxy or a test server. ``timeout`` bounds connecting
    and each read; ``optimize_streaming_latency`` (0-4) trades quality for latency.
    """

    def __init__(self, voice_id: str = DEFAULT_VOICE, *, api_key: str | SecretStr | None = None,
                 model: str = "eleven_flash_v2_5", output_format: str = "pcm_16000",
                 base_url: str | None = None, timeout: float = 10.0,
                 optimize_streaming_latency: int | None = None,
                 voice_settings: Mapping[str, float | bool] | None = None) -> None:
        key = api_key_of(api_key, "ELEVENLABS_API_KEY", NAME)
        assert key is not None
        if output_format not in FORMATS:
            raise ProviderError(NAME, f"output_format {output_format!r} is not supported "
                                f"(expected one of {', '.join(FORMATS)})", retryable=False)
        self.voice_id = voice_id
        self.model = model
        self.output_format = output_format
        self.codec, self.sample_rate = FORMATS[output_format]
        self.base_url = base_url
        self.timeout = timeout
        self.optimize_streaming_latency = optimize_streaming_latency
        self.voice_settings = dict(voice_settings or {})
        self._key = key
        self._client: Any = None
        self._validate()

    def __repr__(self) -> str:
        return (f"ElevenLabsTTS(voice_id={self.voice_id!r}, model={self.model!r}, "
                f"output_format={self.output_format!r}, base_url={self.base_url!r})")

    def load(self) -> None:
        """Check the options and make the SDK's client, so the first sentence does not wait
        for the import (no network)."""
        self._validate()
        self._connect()

    def _validate(self) -> None:
        if not self.voice_id or not self.model:
            raise ProviderError(NAME, "voice_id and model must not be empty", retryable=False)
        if self.timeout <= 0:
            raise ProviderError(NAME, "timeout must be positive", retryable=False)
        if self.optimize_streaming_latency not in (None, 0, 1, 2, 3, 4):
            raise ProviderError(NAME, "optimize_streaming_latency must be 0 to 4",
                                retryable=False)

    def _connect(self) -> Any:
        if self._client is None:
            elevenlabs = sdk("elevenlabs", NAME, "elevenlabs")
            self._client = elevenlabs.AsyncElevenLabs(api_key=self._key.get_secret_value(),
                                                      base_url=self.base_url,
                                                      timeout=self.timeout)
        return self._client

    async def check(self) -> None:
        """Look the voice up (``GET /v1/voices/{voice_id}``): a rejected key or an unknown
        voice raises, non-retryable. A key without the ``voices_read`` permission passes:
        it was recognised, and speech needs only ``text_to_speech``."""
        client = self._connect()
        try:
            await client.voices.get(self.voice_id, request_options={"max_retries": 0})
        except Exception as exc:
            if _detail(exc)[0] == "missing_permissions":
                return
            raise _error(exc) from exc

    async def synthesize(self, text: str) -> AsyncIterator[Pcm]:
        if not text.strip():
            return
        client = self._connect()
        decoder = ChunkDecoder(self.codec)
        options: dict[str, Any] = {}
        if self.voice_settings:
            from elevenlabs import VoiceSettings

            options["voice_settings"] = VoiceSettings.model_validate(self.voice_settings)
        bytes_per_sample = 2 if self.codec == "pcm" else 1
        chunk = round(self.sample_rate * bytes_per_sample * CHUNK_SECONDS)
        try:
            stream = client.text_to_speech.stream(
                self.voice_id, text=text, model_id=self.model, output_format=self.output_format,
                optimize_streaming_latency=self.optimize_streaming_latency,
                request_options={"chunk_size": chunk}, **options)
            async with contextlib.aclosing(stream) as pieces:
                async for piece in pieces:
                    pcm = decoder.feed(piece)
                    if pcm.size:
                        yield pcm
        except Exception as exc:
            raise _error(exc) from exc


class ChunkDecoder:
    """Bytes as they arrive to int16 samples; a PCM sample cut in two between chunks
    waits for its second byte (a lone last byte is dropped)."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self._rest = b""

    def feed(self, data: bytes) -> Pcm:
        if self.codec == "ulaw":
            return ulaw_decode(data)
        if self.codec == "alaw":
            return alaw_decode(data)
        data = self._rest + data
        whole = len(data) - len(data) % 2
        self._rest = data[whole:]
        return np.frombuffer(data[:whole], dtype="<i2").astype(np.int16)


def _detail(exc: Exception) -> tuple[str, str]:
    """The ``detail`` status and message of an API error body, if it has them."""
    body = getattr(exc, "body", None)
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        return str(detail.get("status", "")), str(detail.get("message", ""))
    if detail is not None:
        return "", str(detail)
    return "", str(body or "")


def _error(exc: Exception) -> ProviderError:
    """The SDK's (and httpx's) exceptions as ProviderError, saying whether a retry can help."""
    import httpx
    from elevenlabs.core import ApiError

    if isinstance(exc, ApiError):
        status = exc.status_code or 0
        kind, message = _detail(exc)
        if status == 401 and kind in ("invalid_api_key", ""):
            return ProviderError(NAME, f"the API key was rejected (401): {message}",
                                 retryable=False)
        retryable = status in (408, 429) or status >= 500
        label = f"HTTP {status}" + (f" {kind}" if kind else "")
        return ProviderError(NAME, f"{label}: {message}", retryable=retryable)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(NAME, f"timed out ({type(exc).__name__})", retryable=True)
    if isinstance(exc, httpx.TransportError):
        return ProviderError(NAME, f"connection failed: {exc}", retryable=True)
    return ProviderError(NAME, str(exc) or repr(exc), retryable=True)
