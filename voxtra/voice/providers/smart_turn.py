"""End of turn with Pipecat's open Smart Turn v3.2 model on onnxruntime.

The model (``smart-turn-v3.2-cpu.onnx``, 8 MB; see :mod:`voxtra.voice.model_files`)
hears the last 8 s of a turn at 16 kHz, zeros in front of a shorter one, as Whisper
log-mel features (80 bins x 800 frames of 10 ms) after the waveform is scaled to
zero mean and unit variance, and gives the probability that the turn is complete.

The features come from faster-whisper's numpy extractor (already there with
``voxtra-asterisk[offline]``) rather than the ``transformers`` package: with ``padding=0`` they
match a direct numpy computation of Whisper's log-mel features to 1.3e-6.

One session serves the process; each decision runs in a worker thread (onnxruntime
allows concurrent runs on one session): 49 ms at p50 and 57 ms at p95 per decision on
one thread of the 2-core development machine (``bench/vad_bench.py``). On that bench's
band-limited synthetic voices it tells a pause inside a sentence from an end poorly
(22 of 30 such pauses judged complete), hence the words' veto in
:mod:`voxtra.voice.turns`.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voxtra.media.audio import Pcm
from voxtra.voice import model_files
from voxtra.voice.endpointing import EndOfTurnModel
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.onnx import shared_session

#: The audio the model hears: the turn's last 8 s at 16 kHz.
SECONDS = 8
RATE = 16000


class SmartTurn(EndOfTurnModel):
    """Smart Turn v3: ``model`` is its ONNX file (by default the one
    :mod:`voxtra.voice.model_files` finds); ``threads`` the CPU threads one decision
    uses."""

    sample_rate = RATE

    def __init__(self, model: str | Path | None = None, *, threads: int = 1) -> None:
        self.model_path = model_files.locate("smart-turn", model)
        self.threads = threads

    def load(self) -> None:
        self._shared()

    async def probability(self, pcm: Pcm) -> float:
        return await asyncio.to_thread(self.judge, pcm)

    def judge(self, pcm: Pcm) -> float:
        """:meth:`probability`, blocking."""
        session, extractor = self._shared()
        out = session.run(None, {"input_features": features(pcm, extractor)[None]})
        return float(np.ravel(out[0])[0])

    def _shared(self) -> tuple[Any, Any]:
        """The process's session for this file and the feature extractor (loaded once)."""
        return shared_session("smart-turn", self.model_path, self.threads), _extractor()


def features(pcm: Pcm, extractor: Any) -> npt.NDArray[np.float32]:
    """The model's input (80 x 800) for a turn's 16 kHz audio."""
    samples = SECONDS * RATE
    audio = np.zeros(samples, np.float32)
    tail = np.asarray(pcm[-samples:], np.float32) / 32768.0
    audio[samples - len(tail):] = tail
    audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
    mel: npt.NDArray[np.float32] = extractor(audio, padding=0).astype(np.float32)
    return mel


@functools.cache
def _extractor() -> Any:
    try:
        from faster_whisper.feature_extractor import (  # type: ignore[import-untyped]
            FeatureExtractor,
        )
    except ImportError as exc:
        raise ProviderError("smart-turn", "faster-whisper (its feature extractor) is not "
                            "installed: install voxtra-asterisk[offline]", retryable=False) from exc
    return FeatureExtractor(feature_size=80, sampling_rate=RATE, chunk_length=SECONDS)
