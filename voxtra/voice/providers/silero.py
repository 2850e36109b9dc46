"""Voice activity detection with Silero VAD on onnxruntime, one model for all calls.

The official model (``silero_vad.onnx``; see :mod:`voxtra.voice.model_files` and
``voxtra models fetch``) judges 8 kHz audio natively: windows of 256 samples, each
preceded by the previous window's last 32 samples (at 16 kHz: 512 and 64), with the
rate as an input and a recurrent ``state`` (2x1x128) carried from window to window.
A narrowband call is therefore judged as it arrives, not upsampled.

The export that faster-whisper ships (``assets/silero_vad_v6.onnx``, inputs
``input``, ``h``, ``c``) knows 16 kHz only. Fed telephone audio (300-3400 Hz)
upsampled to 16 kHz it barely hears a caller: on the clean narrowband items of the
telephone corpus (``bench/vad_bench.py``) it heard 36 % of the speech and missed 20 of
57 utterances outright, where the official model at 8 kHz heard 88 % and missed none;
and it hears less the louder the line (one low voice: 49 % at -30 dBFS, 4 % at -18,
the official model 80 % at both). It stays usable
(``SileroVAD(model=path)``, told apart by its input names) and is the fallback,
with a warning, when the official file is missing.

What the model makes of a short word depends on where its 32 ms windows fall in it: the
same "Stop," can peak at 0.9 or stay under 0.5 when the audio starts 24 ms later. So a
call is judged twice (``phases=2``, the default), by two streams whose windows fall half
a window apart, and a chunk's probability is the higher of the two. Over the corpus's
barge-ins fed from eight offsets, one stream started the turn up to 884 ms after the
caller began (p95 387 ms) and two streams 272 ms at most (p95 220 ms), with the same
noises heard (``bench/vad_bench.py``).

The session is shared and runs on one thread (a window is tiny: threads cost more
than they give); a call's state is its streams' recurrent state and window context. A
second of a narrowband call costs 3.3 ms of CPU per stream at 8 kHz, half what the
16 kHz export and the upsampler in front of it cost (6.5 ms; ``bench/vad_bench.py``);
``phases=1`` halves it where calls per core count more than short words.

Calls' listening loops wake together, on each tick of the media clock, so their windows
of the moment are judged together (:meth:`VADStream.judge`): the official model takes a
batch (``input`` B x samples, ``state`` 2 x B x 128), and one run for all calls costs
far less than a run per call (an AI conversation on cloud providers took 1.35 % of a
core with a run per call, 0.85 % batched, at 48 calls: ``bench/agents_bench.py``). The
batch runs once the event loop has let every waiting loop submit, within the same turn
of the loop.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voxtra.media.audio import Pcm
from voxtra.voice import model_files
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.onnx import shared_session
from voxtra.voice.vad import VAD, VADStream

log = logging.getLogger(__name__)

#: Samples per model window by sample rate; each is preceded by 1/8 as many of context.
WINDOWS = {16000: 512, 8000: 256}
#: After this many seconds of silence (no sample above :data:`SILENT`: a muted or
#: silence-suppressed caller) a call's recurrent state starts afresh. Carried through
#: seconds of such digital silence, the state drifts where a short first word is missed:
#: after a question and 0.4-3.5 s of it, one voice's "Wait," stayed under 0.5 at 8 kHz
#: for 13 of 124 silence lengths (the turn began 0.6-0.8 s late, at the next words);
#: started afresh after 1 s, none was (``tests/unit/test_offline_providers.py``). Over
#: line noise the state is kept: started afresh there, the model took noise for speech.
FRESH_AFTER = 1.0
SILENT = 64  # -54 dBFS

class SileroVAD(VAD):
    """Silero VAD. ``model`` is the official ONNX file (inputs ``input``, ``state``,
    ``sr``: 16 and 8 kHz) or faster-whisper's v6 export (``input``, ``h``, ``c``: 16 kHz
    only); by default the official one, found by :mod:`voxtra.voice.model_files`.

    The model is loaded when the detector is made: its inputs decide
    :attr:`sample_rates`.
    """

    def __init__(self, model: str | Path | None = None, phases: int = 2) -> None:
        if phases not in (1, 2):
            raise ProviderError("silero", f"phases must be 1 or 2, not {phases}",
                                retryable=False)
        self.phases = phases
        path = model_files.locate("silero-vad", model) if model is not None else \
            default_model()
        if path is None:
            raise ProviderError("silero", "no model: run `voxtra models fetch` (or install "
                                "voxtra-asterisk[offline]) or pass model=PATH", retryable=False)
        self.model_path = path
        self._session = shared_session("silero", path)
        self._batches: dict[int, _Batch] = {}
        inputs = {spec.name for spec in self._session.get_inputs()}
        if {"input", "state", "sr"} <= inputs:
            self.official = True
            self.sample_rates = (16000, 8000)
        elif {"input", "h", "c"} <= inputs:
            self.official = False
            self.sample_rates = (16000,)
        else:
            raise ProviderError("silero", f"{path}: not a Silero VAD model (inputs: "
                                f"{', '.join(sorted(inputs))})", retryable=False)

    def stream(self, sample_rate: int | None = None) -> VADStream:
        rate = self.sample_rate if sample_rate is None else sample_rate
        if rate not in self.sample_rates:
            raise ValueError(f"{self.model_path.name} does not judge {rate} Hz audio "
                             f"(it judges {self.sample_rates})")
        streams: list[_Stream] = []
        batch = self._batches.setdefault(rate, _Batch(self._session, rate)) \
            if self.official else None
        for phase in range(self.phases):
            stream: _Stream = _OfficialStream(self._session, rate, batch) if self.official \
                else _V6Stream(self._session)
            stream.delay(phase * stream.window // self.phases)
            streams.append(stream)
        return _Phased(streams, rate)


class _Stream(VADStream):
    """Cuts the audio into the model's windows, each with its context, and keeps the
    last window's probability."""

    def __init__(self, window: int) -> None:
        self.window = window
        self._context = window // 8
        # The previous window's context, then samples not judged yet.
        self._pending: npt.NDArray[np.float32] = np.zeros(self._context, np.float32)
        self.probability = 0.0
        #: Where windows of this stream are judged together with other calls' (None: alone).
        self.batch: _Batch | None = None

    def process(self, pcm: Pcm) -> float:
        for frame in self.cut(pcm):
            self.probability = self._judge(frame[None, :])
        return self.probability

    def cut(self, pcm: Pcm) -> list[npt.NDArray[np.float32]]:
        """The whole windows (with their context) that ``pcm`` completes."""
        samples = np.concatenate([self._pending, pcm.astype(np.float32) / 32768.0])
        start, size = 0, self._context + self.window
        frames = []
        while len(samples) - start >= size:
            frames.append(samples[start:start + size])
            start += self.window
        self._pending = samples[start:]
        return frames

    def delay(self, samples: int) -> None:
        """Let this stream's windows fall ``samples`` later (silence goes first)."""
        self._pending = np.concatenate([self._pending, np.zeros(samples, np.float32)])

    @abstractmethod
    def _judge(self, frame: npt.NDArray[np.float32]) -> float:
        """Run the model on one window with its context (shape 1 x samples)."""

    @abstractmethod
    def start_afresh(self) -> None:
        """Forget the recurrent state (the window context stays)."""


class _Phased(VADStream):
    """A call's streams, whose windows fall at different offsets: the higher
    probability counts. After :data:`FRESH_AFTER` of quiet they start afresh."""

    def __init__(self, streams: list[_Stream], sample_rate: int) -> None:
        self._streams = streams
        self._rate = sample_rate
        self._silent = 0.0

    def process(self, pcm: Pcm) -> float:
        return self._heard(pcm, max(stream.process(pcm) for stream in self._streams))

    async def judge(self, pcm: Pcm) -> float:
        if any(stream.batch is None for stream in self._streams):
            return self.process(pcm)  # faster-whisper's export: each call on its own
        waiting = [(stream, stream.cut(pcm)) for stream in self._streams]
        while any(frames for _, frames in waiting):  # a stream's windows go in order
            judged = [(stream, stream.batch.submit(stream, frames.pop(0)))
                      for stream, frames in waiting if frames and stream.batch]
            for stream, future in judged:
                stream.probability = await future
        return self._heard(pcm, max(stream.probability for stream in self._streams))

    def _heard(self, pcm: Pcm, probability: float) -> float:
        silent = not len(pcm) or int(np.max(np.abs(pcm))) <= SILENT
        self._silent = self._silent + len(pcm) / self._rate if silent else 0.0
        if self._silent >= FRESH_AFTER:
            for stream in self._streams:
                stream.start_afresh()
            self._silent = 0.0
        return probability


class _Batch:
    """Windows of many calls judged in one run of the official model: those submitted
    before the event loop next gets to run its ready callbacks."""

    def __init__(self, session: Any, sample_rate: int) -> None:
        self._session = session
        self._rate = np.array(sample_rate, np.int64)
        self._waiting: list[tuple[_OfficialStream, npt.NDArray[np.float32],
                                  asyncio.Future[float]]] = []
        #: Runs of the model, and windows judged in them.
        self.runs = 0
        self.windows = 0

    def submit(self, stream: _Stream, frame: npt.NDArray[np.float32]) -> asyncio.Future[float]:
        assert isinstance(stream, _OfficialStream)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[float] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._run)
        self._waiting.append((stream, frame, future))
        return future

    def _run(self) -> None:
        waiting, self._waiting = self._waiting, []
        try:
            out, state = self._session.run(None, {
                "input": np.stack([frame for _, frame, _ in waiting]),
                "state": np.concatenate([stream.state for stream, _, _ in waiting], axis=1),
                "sr": self._rate})
        except Exception as exc:
            for _, _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        self.runs += 1
        self.windows += len(waiting)
        for row, (stream, _, future) in enumerate(waiting):
            stream.state = state[:, row:row + 1]
            if not future.done():
                future.set_result(float(out[row, 0]))


class _OfficialStream(_Stream):
    def __init__(self, session: Any, sample_rate: int, batch: _Batch | None = None) -> None:
        super().__init__(WINDOWS[sample_rate])
        self._session = session
        self._rate = np.array(sample_rate, np.int64)
        self.state = np.zeros((2, 1, 128), np.float32)
        self.batch = batch

    def _judge(self, frame: npt.NDArray[np.float32]) -> float:
        out, self.state = self._session.run(
            None, {"input": frame, "state": self.state, "sr": self._rate})
        return float(np.ravel(out)[0])

    def start_afresh(self) -> None:
        self.state = np.zeros((2, 1, 128), np.float32)


class _V6Stream(_Stream):
    def __init__(self, session: Any) -> None:
        super().__init__(WINDOWS[16000])
        self._session = session
        self._h: npt.NDArray[np.float32] = np.zeros((1, 1, 128), np.float32)
        self._c: npt.NDArray[np.float32] = np.zeros((1, 1, 128), np.float32)

    def _judge(self, frame: npt.NDArray[np.float32]) -> float:
        out, self._h, self._c = self._session.run(
            None, {"input": frame, "h": self._h, "c": self._c})
        return float(np.ravel(out)[0])

    def start_afresh(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)


def default_model() -> Path | None:
    """The official model if found; else faster-whisper's 16 kHz export, with a warning
    (once); else None."""
    official = model_files.find("silero-vad")
    if official is not None:
        return official
    fallback = faster_whisper_model()
    if fallback is not None:
        _warn_once(f"the official Silero VAD model is missing: using faster-whisper's "
                   f"16 kHz-only export, which hears telephone callers poorly; run "
                   f"`{model_files.FETCH_COMMAND}`")
    return fallback


def faster_whisper_model() -> Path | None:
    """The v6 export inside the installed faster-whisper, found without importing it."""
    spec = importlib.util.find_spec("faster_whisper")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location, "assets", "silero_vad_v6.onnx")
        if path.is_file():
            return path
    return None


@functools.cache
def _warn_once(message: str) -> None:
    log.warning(message)
