"""Speech to text: a stream per utterance, and an adapter for batch recognisers.

The pipeline opens an :class:`STTStream` when the caller starts speaking, feeds it
the utterance's audio, asks for an :meth:`~STTStream.interim` guess when the
caller pauses (to decide whether the turn is over) and takes the
:meth:`~STTStream.final` transcript when it is.

``hints`` are words the caller is likely to say in this utterance (the backchannel
words, while Voxtra speaks). A recogniser that can be told them spells them as given
rather than as look-alike words ("uh-huh", not "I help"); the others ignore them.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voxtra.media.audio import Pcm


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float = 1.0
    language: str | None = None


class STTStream(ABC):
    @abstractmethod
    def feed(self, pcm: Pcm) -> None:
        """More of the utterance, at :attr:`STT.sample_rate`."""

    @abstractmethod
    async def interim(self) -> Transcript:
        """The best transcript of the audio pushed so far."""

    @abstractmethod
    async def final(self) -> Transcript:
        """The transcript of the whole utterance (nothing is pushed after this)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the stream holds (a connection, say)."""


class STT(ABC):
    """A speech recogniser shared by all calls; :meth:`stream` holds one utterance."""

    sample_rate: int = 16000
    #: Its transcripts close a finished sentence with punctuation (".", "?"), so a
    #: guess without any, taken at a pause, may be a sentence broken off
    #: (:class:`~voxtra.voice.turns.TurnDetector`).
    punctuates: bool = False

    @abstractmethod
    def stream(self, hints: Sequence[str] = ()) -> STTStream: ...

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load the model now, blocking (the app calls it in a thread at startup)."""


class BatchSTT(ABC):
    """A recogniser that transcribes a whole piece of audio at once (Whisper)."""

    sample_rate: int = 16000
    #: As :attr:`STT.punctuates`.
    punctuates: bool = False

    @abstractmethod
    async def transcribe(self, pcm: Pcm, hints: Sequence[str] = ()) -> Transcript: ...

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load the model now, blocking (the app calls it in a thread at startup)."""


class BufferedSTT(STT):
    """A :class:`BatchSTT` used as a streaming recogniser.

    The utterance's audio is kept; :meth:`STTStream.interim` transcribes what
    there is. Results are remembered by audio length, so a guess taken when the
    caller paused is the final transcript if the turn ends there: transcription
    overlaps the end-of-turn silence instead of following it.
    """

    def __init__(self, batch: BatchSTT) -> None:
        self.batch = batch
        self.sample_rate = batch.sample_rate
        self.punctuates = batch.punctuates

    def stream(self, hints: Sequence[str] = ()) -> STTStream:
        return _BufferedStream(self.batch, hints)

    def load(self) -> None:
        self.batch.load()


class _BufferedStream(STTStream):
    def __init__(self, batch: BatchSTT, hints: Sequence[str]) -> None:
        self._batch = batch
        self._hints = hints
        self._pieces: list[Pcm] = []
        self._samples = 0
        self._running: tuple[int, asyncio.Task[Transcript]] | None = None

    def feed(self, pcm: Pcm) -> None:
        self._pieces.append(pcm)
        self._samples += len(pcm)

    async def interim(self) -> Transcript:
        if self._running is None or self._running[0] != self._samples:
            audio = np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.int16)
            task = asyncio.ensure_future(self._batch.transcribe(audio, self._hints))
            self._running = (self._samples, task)
        return await asyncio.shield(self._running[1])

    async def final(self) -> Transcript:
        return await self.interim()

    async def aclose(self) -> None:
        if self._running is not None and not self._running[1].done():
            self._running[1].cancel()


def streaming(stt: STT | BatchSTT) -> STT:
    """``stt`` as a streaming recogniser (a batch one behind :class:`BufferedSTT`)."""
    return BufferedSTT(stt) if isinstance(stt, BatchSTT) else stt
