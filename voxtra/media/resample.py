"""Sample-rate conversion: a polyphase windowed-sinc resampler in numpy.

For a ratio L/M (e.g. 8000 to 22050 is 441/160) the input is, in effect,
upsampled by L, low-pass filtered below the lower Nyquist frequency with a
Kaiser-windowed sinc, and decimated by M; only the filter phases that produce
output samples are computed. :class:`Resampler` keeps its state between chunks
so a stream can be converted piece by piece without clicks at the seams.
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

from voxtra.media.g711 import Pcm

#: Filter taps per polyphase branch: quality against cost (about 80 dB stop band).
TAPS_PER_PHASE = 24


class Resampler:
    """Streaming converter from ``source_rate`` to ``target_rate`` (int16 in, int16 out)."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        divisor = gcd(source_rate, target_rate)
        self.up = target_rate // divisor
        self.down = source_rate // divisor
        self.source_rate = source_rate
        self.target_rate = target_rate
        self._filter = _design(self.up, self.down)
        self._history = np.zeros(TAPS_PER_PHASE - 1, dtype=np.float64)
        self._position = 0  # index (in upsampled units) of the next output sample

    def process(self, pcm: Pcm) -> Pcm:
        if self.up == self.down:
            return np.asarray(pcm, dtype=np.int16)
        signal = np.concatenate([self._history, np.asarray(pcm, dtype=np.float64)])
        offset = len(self._history)
        available = len(pcm) * self.up  # upsampled samples this chunk contributes
        positions = np.arange(self._position, available, self.down)
        phase = positions % self.up
        base = positions // self.up + offset
        taps = np.arange(TAPS_PER_PHASE)
        window = signal[base[:, None] - taps[None, :]]
        out: npt.NDArray[np.float64] = np.einsum("ij,ij->i", window, self._filter[phase])
        self._position = int(positions[-1] + self.down - available) if len(positions) else \
            self._position - available
        self._history = signal[-(TAPS_PER_PHASE - 1):]
        result: Pcm = np.clip(np.rint(out), -32768, 32767).astype(np.int16)
        return result


def resample(pcm: Pcm, source_rate: int, target_rate: int) -> Pcm:
    """Convert a whole signal (see :class:`Resampler` for streams)."""
    return Resampler(source_rate, target_rate).process(pcm)


def _design(up: int, down: int) -> npt.NDArray[np.float64]:
    """Polyphase branches (``up`` rows of TAPS_PER_PHASE) of the anti-alias filter."""
    length = up * TAPS_PER_PHASE
    cutoff = 0.5 / max(up, down) * 0.92  # of the upsampled rate, with a transition band
    n = np.arange(length) - (length - 1) / 2
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, 8.0)
    taps *= up / taps.sum()  # unity gain after zero-stuffing by `up`
    branches: npt.NDArray[np.float64] = taps.reshape(TAPS_PER_PHASE, up).T.copy()
    return branches
