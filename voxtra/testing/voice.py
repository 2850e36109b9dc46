"""Test doubles for voice apps: audio in memory, and providers with controllable timing.

    audio = MemoryAudio()
    pipeline = VoicePipeline(Providers(FakeSTT(["hello"]), FakeTTS(), FakeLLM(...),
                                       FakeVAD()), audio, audio, VoiceSettings(), EventEmitter())
    await audio.speak(1.0)          # the caller speaks for a second (then silence)

:class:`FakeVAD` hears speech wherever the audio is louder than a threshold, so a
test "speaks" with :func:`voice_like` bursts; :class:`FakeSTT` returns scripted
transcripts, one per utterance; :class:`FakeTTS` makes 100 ms of tone per word.
Each fake can be told to fail or hang to test what a call does then.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

import numpy as np

from voxtra.media.audio import FRAME_MS, AudioChunk, Pcm
from voxtra.media.fanout import Fanout, Subscription
from voxtra.media.pacer import Pacer, Playout
from voxtra.media.resample import Resampler
from voxtra.voice.endpointing import EndOfTurnModel
from voxtra.voice.errors import ProviderError
from voxtra.voice.llm import LLM, ChatMessage, LLMDelta, Tool
from voxtra.voice.stt import STT, STTStream, Transcript
from voxtra.voice.tts import TTS
from voxtra.voice.vad import VAD, VADStream


def voice_like(seconds: float, rate: int = 8000, frequency: float = 220.0) -> Pcm:
    """A loud harmonic tone standing in for speech (FakeVAD hears it as speech)."""
    t = np.arange(int(seconds * rate)) / rate
    wave = np.sin(2 * np.pi * frequency * t) + 0.5 * np.sin(2 * np.pi * 2 * frequency * t)
    return (6000 * wave).astype(np.int16)


class MemoryAudio:
    """Both audio ports in memory, at ``sample_rate``.

    Caller audio goes in with :meth:`speak`/:meth:`silence` (in real time, 20 ms
    chunks); audio to the caller goes through a real :class:`Pacer` and is kept
    in :attr:`sent` as ``(send time, pcm)`` frames. Its pacer drops no frame however
    late (a loaded test machine delays the reply, it does not cut it): dropping late
    frames is the media endpoint's, tested on its own.
    """

    def __init__(self, sample_rate: int = 8000) -> None:
        self.sample_rate = sample_rate
        self._fanout: Fanout[AudioChunk] = Fanout()
        self._pacer = Pacer(self._send, max_lag=math.inf)
        self._pacer.start()
        self._resamplers: dict[int, Resampler] = {}
        self._elapsed = 0.0
        self.sent: list[tuple[float, Pcm]] = []

    # AudioInput
    def subscribe(self, max_chunks: int | None = None) -> Subscription[AudioChunk]:
        return self._fanout.subscribe(max_chunks)

    async def feed(self, pcm: Pcm) -> None:
        """The caller's audio, chunk by chunk in real time."""
        size = self.sample_rate * FRAME_MS // 1000
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index in range(0, len(pcm), size):
            chunk = pcm[index:index + size]
            self._fanout.publish(AudioChunk(chunk, self.sample_rate, self._elapsed))
            self._elapsed += len(chunk) / self.sample_rate
            await asyncio.sleep(max(0.0, start + (index + size) / self.sample_rate - loop.time()))

    async def speak(self, seconds: float) -> None:
        await self.feed(voice_like(seconds, self.sample_rate))

    async def silence(self, seconds: float) -> None:
        await self.feed(np.zeros(int(seconds * self.sample_rate), dtype=np.int16))

    # AudioOutput
    def push(self, audio: Pcm, sample_rate: int | None = None,
             protected: bool = False) -> Playout:
        rate = sample_rate or self.sample_rate
        if rate != self.sample_rate:
            resampler = self._resamplers.get(rate)
            if resampler is None:
                resampler = self._resamplers[rate] = Resampler(rate, self.sample_rate)
            audio = resampler.process(audio)
        size = self.sample_rate * FRAME_MS // 1000
        frames = [audio[i:i + size].astype("<i2").tobytes() for i in range(0, len(audio), size)]
        return self._pacer.enqueue(frames, protected)

    def clear(self) -> float:
        return self._pacer.clear()

    def pause(self) -> float:
        return self._pacer.pause()

    def resume(self) -> None:
        self._pacer.resume()

    @property
    def queued(self) -> float:
        return self._pacer.queued

    async def wait_for_playout(self) -> None:
        await self._pacer.wait_for_playout()

    def _send(self, payload: bytes, marker: bool) -> None:
        loop = asyncio.get_running_loop()
        self.sent.append((loop.time(), np.frombuffer(payload, dtype="<i2")))

    def heard(self) -> Pcm:
        """Everything sent to the caller, joined."""
        if not self.sent:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate([pcm for _, pcm in self.sent])

    async def close(self) -> None:
        self._fanout.close()
        await self._pacer.stop()


class FakeVAD(VAD):
    """Speech wherever the RMS level is above ``threshold``."""

    sample_rates = (16000, 8000)

    def __init__(self, threshold: float = 500.0) -> None:
        self.threshold = threshold

    def stream(self, sample_rate: int | None = None) -> VADStream:
        return _LevelStream(self.threshold)


class _LevelStream(VADStream):
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def process(self, pcm: Pcm) -> float:
        level = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0
        return 1.0 if level > self.threshold else 0.0


Script = str | Callable[[float], str]


class FakeSTT(STT):
    """Returns ``transcripts`` in turn, one per utterance (then ``""``), after
    ``delay`` seconds; ``fail`` raises, ``hang`` never answers. An entry may be a
    function of the seconds of audio heard so far (to script interim guesses)."""

    def __init__(self, transcripts: Iterable[Script] = (), *, delay: float = 0.0,
                 fail: bool = False, hang: bool = False) -> None:
        self.transcripts = list(transcripts)
        self.delay = delay
        self.fail = fail
        self.hang = hang
        self.streams = 0
        #: The hints each stream was opened with, in order.
        self.hints: list[tuple[str, ...]] = []

    def stream(self, hints: Sequence[str] = ()) -> STTStream:
        text = self.transcripts.pop(0) if self.transcripts else ""
        self.streams += 1
        self.hints.append(tuple(hints))
        return _FakeStream(self, text)


class _FakeStream(STTStream):
    def __init__(self, stt: FakeSTT, text: Script) -> None:
        self._stt = stt
        self._text = text
        self.samples = 0

    def feed(self, pcm: Pcm) -> None:
        self.samples += len(pcm)

    async def interim(self) -> Transcript:
        if self._stt.hang:
            await asyncio.Event().wait()
        if self._stt.fail:
            raise ProviderError("fake-stt", "the recogniser died", retryable=True)
        await asyncio.sleep(self._stt.delay)
        text = self._text if isinstance(self._text, str) else \
            self._text(self.samples / self._stt.sample_rate)
        return Transcript(text, 0.9, "en")

    async def final(self) -> Transcript:
        return await self.interim()


class FakeEndOfTurn(EndOfTurnModel):
    """Judges a turn complete (probability 1) or not (0) by ``complete(seconds)``, the
    seconds of audio it is given; ``judged`` keeps those lengths."""

    def __init__(self, complete: Callable[[float], bool], sample_rate: int = 16000) -> None:
        self.complete = complete
        self.sample_rate = sample_rate
        self.judged: list[float] = []

    async def probability(self, pcm: Pcm) -> float:
        seconds = len(pcm) / self.sample_rate
        self.judged.append(seconds)
        return 1.0 if self.complete(seconds) else 0.0


class FakeTTS(TTS):
    """100 ms of a quiet tone per word, first audio after ``delay`` seconds."""

    def __init__(self, sample_rate: int = 16000, *, delay: float = 0.0,
                 fail: bool = False, hang: bool = False, seconds_per_word: float = 0.1) -> None:
        self.sample_rate = sample_rate
        self.delay = delay
        self.fail = fail
        self.hang = hang
        self.seconds_per_word = seconds_per_word
        self.spoken: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[Pcm]:
        if self.hang:
            await asyncio.Event().wait()
        if self.fail:
            raise ProviderError("fake-tts", "the voice died", retryable=False)
        await asyncio.sleep(self.delay)
        self.spoken.append(text)
        for _ in text.split():
            yield voice_like(self.seconds_per_word, self.sample_rate, 330.0) // 8


class FakeLLM(LLM):
    """Replies with ``replies`` in turn (then the last again), word by word every
    ``word_delay`` seconds after ``delay``; ``fail`` raises, ``hang`` never answers.
    ``finished`` holds when each reply's last word was given (monotonic seconds)."""

    def __init__(self, replies: Sequence[str] = ("OK.",), *, delay: float = 0.0,
                 word_delay: float = 0.0, fail: bool = False, hang: bool = False) -> None:
        self.replies = list(replies)
        self.delay = delay
        self.word_delay = word_delay
        self.fail = fail
        self.hang = hang
        self.seen: list[list[ChatMessage]] = []
        self.finished: list[float] = []

    async def stream(self, messages: Sequence[ChatMessage],
                     tools: Sequence[Tool] = ()) -> AsyncIterator[LLMDelta]:
        self.seen.append(list(messages))
        if self.hang:
            await asyncio.Event().wait()
        if self.fail:
            raise ProviderError("fake-llm", "the model is down", retryable=True)
        await asyncio.sleep(self.delay)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        for index, word in enumerate(reply.split(" ")):
            if index and self.word_delay:
                await asyncio.sleep(self.word_delay)
            yield LLMDelta(word if index == 0 else " " + word)
        self.finished.append(time.monotonic())
