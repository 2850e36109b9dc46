"""Voice activity detection: speech probability of each piece of audio.

A :class:`VAD` is shared by all calls (it holds the model); each call gets its
own :class:`VADStream` (the model's running state).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from voxtra.media.audio import Pcm


class VADStream(ABC):
    @abstractmethod
    def process(self, pcm: Pcm) -> float:
        """Speech probability (0..1) of the latest audio, fed in any chunk size at the
        stream's sample rate."""

    async def judge(self, pcm: Pcm) -> float:
        """:meth:`process` for a call's listening loop: a model shared by many calls may
        judge all calls' audio of the moment in one run (see ``SileroVAD``)."""
        return self.process(pcm)


class VAD(ABC):
    #: The sample rates the model judges natively, preferred first. The pipeline feeds
    #: a call's audio at its own rate when it is one of these (no resampling: a
    #: narrowband call is judged as narrowband), else resampled to the first.
    sample_rates: tuple[int, ...] = (16000,)

    @property
    def sample_rate(self) -> int:
        """The preferred rate."""
        return self.sample_rates[0]

    def rate_for(self, sample_rate: int) -> int:
        """The rate to judge audio of ``sample_rate`` at."""
        return sample_rate if sample_rate in self.sample_rates else self.sample_rates[0]

    @abstractmethod
    def stream(self, sample_rate: int | None = None) -> VADStream:
        """A call's running state, fed at ``sample_rate`` (one of :attr:`sample_rates`;
        None: the preferred one)."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load the model now, blocking (the app calls it in a thread at startup)."""


class EnergyVAD(VAD):
    """Speech where the level rises ``margin_db`` above a tracked noise floor.

    No model: a fallback when no neural VAD is installed. It tells sound from
    silence, not speech from noise.
    """

    sample_rates = (16000, 8000)

    def __init__(self, margin_db: float = 12.0, floor_db: float = 35.0) -> None:
        self.margin_db = margin_db
        self.floor_db = floor_db

    def stream(self, sample_rate: int | None = None) -> VADStream:
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
