"""One utterance of Voxtra's: text to speech to paced audio, and what was heard of it.

A :class:`Speech` takes its text as one string or as pieces (a streamed model
reply), cuts it into sentences, synthesises each as soon as it is complete and
queues the audio on the output, so the first sentence plays while the rest is
still being generated. :meth:`Speech.interrupt` (barge-in) stops generation and
clears the queued audio together; what the caller heard is the sentences played
to the end plus the played share of the words of the one that was cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from voxtra.media.audio import Pcm
from voxtra.media.pacer import Playout
from voxtra.voice.errors import ProviderError
from voxtra.voice.events import SpeechResult
from voxtra.voice.io import AudioOutput
from voxtra.voice.text import sentences
from voxtra.voice.tts import TTS


@dataclass
class _Sentence:
    text: str
    playouts: list[Playout] = field(default_factory=list)


def progress(playouts: Sequence[Playout]) -> tuple[int, int]:
    """Frames of ``playouts`` that playback got past (:attr:`Playout.reached`), and in all."""
    return sum(p.reached for p in playouts), sum(p.frames for p in playouts)


def heard_of(text: str, playouts: Sequence[Playout]) -> str:
    """What the caller heard of ``text`` spoken as ``playouts``: the whole text once
    playback got past its last frame, else the played share of its words."""
    reached, frames = progress(playouts)
    if frames and reached >= frames:
        return text.strip()
    words = text.split()
    return " ".join(words[:round(len(words) * reached / frames)] if frames else [])


#: A reply starts at its first 10 ms louder than this (RMS, dBFS): what a synthesiser
#: puts before the first word is latency the caller hears as silence (Piper: 40-50 ms).
ONSET_DBFS = -45.0
_ONSET_POWER = (32768 * 10 ** (ONSET_DBFS / 20)) ** 2


def from_onset(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` from 10 ms before its first 10 ms frame at or above :data:`ONSET_DBFS`;
    empty if it has none."""
    frame = max(1, rate // 100)
    padded = np.concatenate([pcm.astype(np.float64), np.zeros(-len(pcm) % frame)])
    loud = np.flatnonzero(np.mean(padded.reshape(-1, frame) ** 2, axis=1) >= _ONSET_POWER)
    return pcm[max(0, int(loud[0]) - 1) * frame:] if len(loud) else pcm[:0]


async def _one(text: str) -> AsyncIterator[str]:
    yield text


async def _close(iterator: object) -> None:
    """Close an async generator early (what it holds is released now, not at GC)."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


class Speech:
    """Speaks ``text`` through ``tts`` into ``output``; await :meth:`run`."""

    def __init__(self, text: str | AsyncIterable[str], tts: TTS, output: AudioOutput, *,
                 interruptible: bool = True, first_audio_timeout: float | None = 10.0) -> None:
        self._source = aiter(_one(text) if isinstance(text, str) else text)
        #: The whole text, when it was given whole (a stream's is what was generated).
        self._text = text if isinstance(text, str) else None
        self._tts = tts
        self._output = output
        self.interruptible = interruptible
        self._first_audio_timeout = first_audio_timeout
        self._sentences: list[_Sentence] = []
        self.interrupted = False
        #: Which stage failed, if one did: "llm" (the text source) or "tts".
        self.failed_stage: str | None = None
        #: The first frame's send time (monotonic), and seconds from a sentence's
        #: synthesis request to its first audio (the first sentence's).
        self.started = asyncio.get_running_loop().create_future()
        self.tts_first_audio: float | None = None

    async def run(self) -> SpeechResult:
        """Generate, synthesise and play; returns once played or interrupted."""
        lines = sentences(self._source)
        try:
            while True:
                self.failed_stage = "llm"
                try:
                    text = await anext(lines)
                except StopAsyncIteration:
                    break
                self.failed_stage = "tts"
                sentence = _Sentence(text)
                self._sentences.append(sentence)
                await self._synthesise(sentence)
            self.failed_stage = None
            for sentence in self._sentences:
                for playout in sentence.playouts:
                    await playout.done
        except asyncio.CancelledError:
            if not self.interrupted:
                raise
        finally:  # stop generating: the model's stream closes with its iterator
            await _close(lines)
            await _close(self._source)
        return self.result

    async def _synthesise(self, sentence: _Sentence) -> None:
        began = time.monotonic()
        pieces = self._tts.synthesize(sentence.text).__aiter__()
        timeout = self._first_audio_timeout if self.tts_first_audio is None else None
        try:
            while True:
                try:
                    pcm = await asyncio.wait_for(anext(pieces), timeout)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise ProviderError(type(self._tts).__name__,
                                        f"no audio within {timeout} s") from None
                timeout = None
                if self.tts_first_audio is None:
                    pcm = from_onset(pcm, self._tts.sample_rate)
                    if not len(pcm):
                        continue
                    self.tts_first_audio = time.monotonic() - began
                playout = self._output.push(pcm, self._tts.sample_rate,
                                            protected=not self.interruptible)
                sentence.playouts.append(playout)
                if not self.started.done():
                    playout.started.add_done_callback(self._first_frame)
        finally:
            await _close(pieces)

    def _first_frame(self, started: asyncio.Future[None]) -> None:
        if not self.started.done() and not started.cancelled():
            self.started.set_result(time.monotonic())

    def pause(self) -> float:
        """Hold the audio while caller speech is judged; seconds until the caller
        hears silence. Generation goes on meanwhile."""
        return self._output.pause()

    def resume(self) -> None:
        """Play on from where :meth:`pause` stopped (it was no interruption)."""
        self._output.resume()

    def interrupt(self) -> float:
        """Barge-in: clear the queued audio; seconds until the caller hears silence.
        The task running :meth:`run` must be cancelled by its owner."""
        self.interrupted = True
        return self._output.clear()

    @property
    def result(self) -> SpeechResult:
        spoken, heard = [], []
        played = 0.0
        cut = False
        for sentence in self._sentences:
            spoken.append(sentence.text)
            played += sum(p.seconds_sent for p in sentence.playouts)
            if cut:
                continue
            reached, frames = progress(sentence.playouts)
            cut = not frames or reached < frames
            if part := heard_of(sentence.text, sentence.playouts):
                heard.append(part)
        text = self._text.strip() if self._text is not None else " ".join(spoken)
        return SpeechResult(text, " ".join(heard), self.interrupted or cut, played)
