"""Fallback lists: a stage that switches to the next provider when one fails.

``FallbackTTS([ElevenLabsTTS(), PiperTTS()])`` and the like are providers
themselves, so the pipeline needs no flags. A switch happens within the turn:

- STT: the utterance's audio is kept, so when a recogniser fails (or times out)
  the next one gets all of it and the turn is still transcribed.
- LLM and TTS: a provider that fails before its first token or audio is replaced
  by the next for the same request; one that fails after it has given something
  fails the request (switching then would repeat words the caller already heard).

Each failure is logged; the last provider's error is raised if all fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TypeVar

import numpy as np

from voxtra.media.audio import Pcm
from voxtra.media.resample import Resampler, resample
from voxtra.voice.errors import ProviderError
from voxtra.voice.llm import LLM, ChatMessage, LLMDelta, Tool
from voxtra.voice.stt import STT, BatchSTT, STTStream, Transcript, streaming
from voxtra.voice.tts import TTS

log = logging.getLogger(__name__)

P = TypeVar("P")
T = TypeVar("T")


def _need(providers: Sequence[P], kind: str) -> list[P]:
    if not providers:
        raise ValueError(f"a {kind} fallback list needs at least one provider")
    return list(providers)


def _failed(provider: object, error: BaseException) -> ProviderError:
    log.warning("%s failed, trying the next: %s", type(provider).__name__, error)
    if isinstance(error, ProviderError):
        return error
    return ProviderError(type(provider).__name__, str(error) or repr(error))


async def _first_working(providers: Sequence[P],
                         begin: Callable[[P], AsyncIterator[T]]) -> AsyncIterator[T]:
    """Items from the first provider that gives one; a provider that fails after its
    first item fails the whole request."""
    error: ProviderError | None = None
    for provider in providers:
        started = False
        try:
            async for item in begin(provider):
                started = True
                yield item
            return
        except Exception as exc:
            if started:
                raise
            error = _failed(provider, exc)
    assert error is not None
    raise error


class FallbackLLM(LLM):
    def __init__(self, providers: Sequence[LLM]) -> None:
        self.providers = _need(providers, "LLM")

    def load(self) -> None:
        for provider in self.providers:
            provider.load()

    def stream(self, messages: Sequence[ChatMessage],
               tools: Sequence[Tool] = ()) -> AsyncIterator[LLMDelta]:
        return _first_working(self.providers, lambda llm: llm.stream(messages, tools))


class FallbackTTS(TTS):
    """Audio comes at the first provider's sample rate (others are resampled)."""

    def __init__(self, providers: Sequence[TTS]) -> None:
        self.providers = _need(providers, "TTS")
        self.sample_rate = self.providers[0].sample_rate

    def load(self) -> None:
        for provider in self.providers:
            provider.load()

    def synthesize(self, text: str) -> AsyncIterator[Pcm]:
        return _first_working(self.providers, lambda tts: self._at_our_rate(tts, text))

    async def _at_our_rate(self, tts: TTS, text: str) -> AsyncIterator[Pcm]:
        resampler = (Resampler(tts.sample_rate, self.sample_rate)
                     if tts.sample_rate != self.sample_rate else None)
        async for pcm in tts.synthesize(text):
            yield resampler.process(pcm) if resampler is not None else pcm


class FallbackSTT(STT):
    """Audio is pushed at the first recogniser's sample rate; ``timeout`` bounds each
    recogniser's answer so that a hanging one gives way to the next within the turn
    (keep ``voice.stt_timeout`` above it)."""

    def __init__(self, providers: Sequence[STT | BatchSTT], timeout: float = 2.0) -> None:
        self.providers = [streaming(p) for p in _need(providers, "STT")]
        self.sample_rate = self.providers[0].sample_rate
        self.timeout = timeout

    def load(self) -> None:
        for provider in self.providers:
            provider.load()

    def stream(self, hints: Sequence[str] = ()) -> STTStream:
        return _FallbackStream(self, hints)


class _FallbackStream(STTStream):
    def __init__(self, fallback: FallbackSTT, hints: Sequence[str]) -> None:
        self._fallback = fallback
        self._hints = hints
        self._index = 0
        self._audio: list[Pcm] = []
        self._stream = fallback.providers[0].stream(hints)

    def feed(self, pcm: Pcm) -> None:
        self._audio.append(pcm)
        self._stream.feed(pcm)

    async def interim(self) -> Transcript:
        return await self._ask(final=False)

    async def final(self) -> Transcript:
        return await self._ask(final=True)

    async def _ask(self, final: bool) -> Transcript:
        while True:
            provider = self._fallback.providers[self._index]
            try:
                answer = self._stream.final() if final else self._stream.interim()
                return await asyncio.wait_for(answer, self._fallback.timeout)
            except Exception as exc:
                error = _failed(provider, exc)
                if self._index + 1 >= len(self._fallback.providers):
                    raise error from exc
            await self._switch()

    async def _switch(self) -> None:
        """Give the next recogniser the whole utterance so far."""
        await self.aclose()
        self._index += 1
        provider = self._fallback.providers[self._index]
        self._stream = provider.stream(self._hints)
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, np.int16)
        if provider.sample_rate != self._fallback.sample_rate:
            audio = resample(audio, self._fallback.sample_rate, provider.sample_rate)
        self._stream.feed(audio)

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        except Exception as exc:
            log.debug("closing %s failed: %s", type(self._stream).__name__, exc)
