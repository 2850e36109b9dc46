"""Voice activity detection: speech probability of each piece of audio.

A :class:`VAD` is shared by all calls (it holds the model); each call gets its
own :class:`VADStream` (the model's running state).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from voxtra.media.g711 import Pcm


class VADStream(ABC):
    @abstractmethod
    def process(self, pcm: Pcm) -> float:
        """Speech probability (0..1) of the latest audio, fed in any chunk size at
        :attr:`VAD.sample_rate`."""


class VAD(ABC):
    #: The sample rate the model wants (audio is resampled to it).
    sample_rate: int = 16000

    @abstractmethod
    def stream(self) -> VADStream: ...

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load the model now, blocking (the app calls it in a thread at startup)."""


class EnergyVAD(VAD):
    """Speech where the level rises ``margin_db`` above a tracked noise floor.

    No model: a fallback when no neural VAD is installed. It tells sound from
    silence, not speech from noise.
    """

    def __init__(self, margin_db: float = 12.0, floor_db: float = 35.0,
                 sample_rate: int = 16000) -> None:
        self.margin_db = margin_db
        self.floor_db = floor_db
        self.sample_rate = sample_rate

    def stream(self) -> VADStream:
        return _EnergyStream(self)


class _EnergyStream(VADStream):
    def __init__(self, vad: EnergyVAD) -> None:
        self._vad = vad
        self._noise_db = vad.floor_db

    def process(self, pcm: Pcm) -> float:
        if not len(pcm):
            return 0.0
        power = float(np.mean(pcm.astype(np.float64) ** 2))
        level = 10 * np.log10(power + 1e-9)
        # The floor follows quiet audio quickly and loud audio slowly.
        rate = 0.2 if level < self._noise_db else 0.002
        self._noise_db = max(self._vad.floor_db, self._noise_db + rate * (level - self._noise_db))
        excess = level - self._noise_db - self._vad.margin_db
        return float(1 / (1 + np.exp(-excess / 2)))
