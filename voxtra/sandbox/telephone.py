"""Telephone callers' audio for tests: voices, the phone channel, levels, noise, timelines.

Real PSTN callers reach an app as 8 kHz G.711 band-limited to 300-3400 Hz, anywhere from
-30 to -12 dBFS, often over background noise, with coughs and slams between words. This
module makes such audio offline from what ships in packages, deterministically:

    voice = VOICES[0]                              # Piper's joe voice
    pcm, rate = synthesize(voice, "Can you tell me")
    timeline = Timeline(8000)
    timeline.pause(1.5)
    timeline.add(trim(telephone_band(pcm, rate), 8000), "speech", "Can you tell me")
    timeline.pause(0.6)
    timeline.add(trim(telephone_band(cough(seed=1), 16000), 8000), "cough")
    timeline.pause(4.0)
    audio, spans = timeline.render()               # spans: where each piece is audible
    audio = with_noise(at_level(audio, -24.0), 15.0, seed=1, kind="babble")
    write_ulaw_wav(path, audio)                    # what SIPp's rtp_stream sends

Voices come from :mod:`voxtra.sandbox.voices`, files and sox from
:mod:`voxtra.sandbox.sound`. The channel, shifts and resampling run in sox
(a subprocess on temporary files); noises and bursts are synthesised with numpy from a
seed.
Levels are dBFS of the RMS relative to full scale (a full-scale square wave is 0 dBFS,
a full-scale sine -3 dBFS), over the active part of the signal (its speech, not its
pauses).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from voxtra.media.audio import Pcm
from voxtra.sandbox.sound import Signal, clip, extent, framed, sox, trim
from voxtra.sandbox.voices import DEFAULT_CACHE, Voice, synthesize, synthesize_paused

NoiseKind = Literal["babble", "pink", "street"]
BurstKind = Literal["door", "rustle"]

#: The pass band of each channel, by its sample rate: narrowband telephony (G.711) and
#: wideband (G.722).
BANDS: dict[int, tuple[int, int]] = {8000: (300, 3400), 16000: (50, 7000)}
#: Transition widths (Hz) of the channel filter's low and high edges, by sample rate.
_EDGES: dict[int, tuple[int, int]] = {8000: (100, 100), 16000: (40, 200)}
#: A frame is active (speech, not pause) within this many dB of the loudest frame.
_ACTIVE_RANGE_DB = 35.0
_FULL_SCALE = 32768.0


# The channel -------------------------------------------------------------------------


def telephone_band(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` as a narrowband phone line carries it: 300-3400 Hz, at 8 kHz.

    The result may be quieter than the input (sox guards against clipping); set its
    level afterwards with :func:`at_level`.
    """
    return _channel(pcm, rate, 8000)


def wideband(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` as a wideband (G.722) line carries it: 50-7000 Hz, at 16 kHz."""
    return _channel(pcm, rate, 16000)


def _channel(pcm: Pcm, rate: int, target: int) -> Pcm:
    """Band-limit ``pcm`` to the pass band of the channel at ``target`` Hz and resample
    it there (sox's ``sinc`` and ``rate``)."""
    low, high = BANDS[target]
    low_edge, high_edge = _EDGES[target]
    effects = ["sinc", "-t", str(low_edge), f"{low}-{high}", "-t", str(high_edge)]
    if rate != target:
        effects += ["rate", str(target)]
    out, _ = sox(pcm, rate, effects)
    return out


def active_level(pcm: Pcm, rate: int = 8000) -> float:
    """The level of ``pcm``'s active part in dBFS: the RMS of its 20 ms frames within
    35 dB of the loudest (speech, its pauses and lead silence left out)."""
    signal = pcm.astype(np.float64)
    frames = framed(signal, rate // 50)
    energy = np.mean(frames**2, axis=1)
    if not len(energy) or energy.max() <= 0:
        return -np.inf
    active = energy >= energy.max() * 10 ** (-_ACTIVE_RANGE_DB / 10)
    return float(10 * np.log10(np.mean(energy[active]) / _FULL_SCALE**2))


def at_level(pcm: Pcm, dbfs: float, rate: int = 8000) -> Pcm:
    """``pcm`` scaled so its active level (:func:`active_level`) is ``dbfs``.

    Loud targets clip peaks, as an overdriven line does; the gain is raised until the
    clipped signal still reaches the target.
    """
    signal = pcm.astype(np.float64)
    level = active_level(pcm, rate)
    if not np.isfinite(level):
        return pcm.copy()
    gain = 10 ** ((dbfs - level) / 20)
    out = clip(signal * gain)
    for _ in range(8):
        error = dbfs - active_level(out, rate)
        if abs(error) < 0.05:
            break
        gain *= 10 ** (error / 20)
        out = clip(signal * gain)
    return out


def with_noise(pcm: Pcm, snr_db: float, seed: int, kind: NoiseKind = "pink",
               rate: int = 8000) -> Pcm:
    """``pcm`` over background noise of ``kind``, ``snr_db`` below its active level,
    the whole length of the file, band-limited to the channel of ``rate``.

    "babble" is a crowd of voice-like talkers (pitch pulses through vowel formants that
    change every syllable, in bursts), "pink" is 1/f noise, "street" is traffic rumble
    with vehicles passing and a hiss of wind.
    """
    rng = np.random.default_rng(seed)
    noise = _NOISES[kind](len(pcm), rate, rng)
    noise = _channel(clip(noise / np.abs(noise).max() * 16000), rate, rate).astype(np.float64)
    noise_rms = np.sqrt(np.mean(noise**2))
    target = _FULL_SCALE * 10 ** ((active_level(pcm, rate) - snr_db) / 20)
    return clip(pcm.astype(np.float64) + noise * (target / noise_rms))


def _pink(n: int, rate: int, rng: np.random.Generator) -> Signal:
    return _shaped(rng.standard_normal(n), rate, lambda f: 1 / np.sqrt(np.maximum(f, 20.0)))


#: Formants (F1, F2, F3, Hz) of a few English vowels, for babble's talkers.
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (300, 870, 2240),
           (660, 1720, 2410), (490, 1350, 1690), (640, 1190, 2390))


def _babble(n: int, rate: int, rng: np.random.Generator) -> Signal:
    """Eight talkers: each a pitch pulse train (with intonation) through a vowel's
    formants that change every syllable, talking in bursts with pauses between."""
    out = np.zeros(n)
    for _ in range(8):
        f0 = rng.uniform(95, 230) * (1 + 0.12 * _wander(n, rate, rng, 1.5))
        source = 2 * (np.cumsum(f0 / rate) % 1.0) - 1 + 0.2 * rng.standard_normal(n)
        talker = _syllables(source, rate, rng)
        out += talker / talker.std() * np.clip(_wander(n, rate, rng, 3.0) + 0.4, 0, None)
    return out


def _syllables(source: Signal, rate: int, rng: np.random.Generator) -> Signal:
    """``source`` through a random vowel's formants, a new vowel every 80-120 ms
    (overlap-added with periodic Hann windows, which sum to one at half overlap)."""
    hop = int(rate * rng.uniform(0.08, 0.12))
    padded = np.concatenate([np.zeros(hop), source, np.zeros(2 * hop)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * hop) / (2 * hop))
    out = np.zeros(len(padded))
    for start in range(0, len(padded) - 2 * hop + 1, hop):
        formants = np.array(_VOWELS[rng.integers(len(_VOWELS))]) * rng.uniform(0.9, 1.25)

        def tract(f: Signal, formants: Signal = formants) -> Signal:
            peaks: Signal = sum((np.exp(-(((f - fc) / (60 + 0.08 * fc)) ** 2)) / (1 + i)
                                 for i, fc in enumerate(formants)),
                                start=np.full_like(f, 0.01))
            return peaks

        out[start:start + 2 * hop] += _shaped(padded[start:start + 2 * hop] * window, rate,
                                              tract)
    return out[hop:hop + len(source)]


def _street(n: int, rate: int, rng: np.random.Generator) -> Signal:
    seconds = n / rate
    t = np.arange(n) / rate
    passing = np.full(n, 0.3)
    for _ in range(max(1, int(seconds / 3))):
        passing += rng.uniform(0.5, 1.5) * np.exp(-(((t - rng.uniform(0, seconds))
                                                     / rng.uniform(0.8, 2.0)) ** 2))
    rumble = _shaped(rng.standard_normal(n), rate, lambda f: 1 / (1 + (f / 600) ** 2))
    wind = _shaped(rng.standard_normal(n), rate, lambda f: 1 / np.sqrt(np.maximum(f, 20.0)))
    street: Signal = rumble / rumble.std() * passing + 0.15 * wind / wind.std()
    return street


_NOISES: dict[str, Callable[[int, int, np.random.Generator], Signal]] = {
    "babble": _babble, "pink": _pink, "street": _street}


# Bursts ------------------------------------------------------------------------------


def cough(seed: int, rate: int = 16000) -> Pcm:
    """A cough-like burst of 0.25-0.4 s: an explosive onset decaying through
    vocal-tract resonances, with a rough voiced part; full band at ``rate``."""
    rng = np.random.default_rng(seed)
    n = int(rng.uniform(0.25, 0.4) * rate)
    t = np.arange(n) / rate
    formants = [(rng.uniform(400, 700), 150.0), (rng.uniform(1100, 1700), 250.0),
                (rng.uniform(2300, 2900), 350.0)]

    def tract(f: Signal) -> Signal:
        peaks: Signal = sum((np.exp(-(((f - fc) / bw) ** 2)) for fc, bw in formants),
                            start=np.full_like(f, 0.05))
        return peaks

    breath = _shaped(rng.standard_normal(n), rate, tract)
    f0 = rng.uniform(140, 260) * (1 + 0.05 * rng.standard_normal(n).cumsum() / np.sqrt(n))
    voiced = _shaped(2 * (np.cumsum(f0 / rate) % 1.0) - 1, rate, tract)
    envelope = (1 - np.exp(-t / 0.004)) * np.exp(-t / rng.uniform(0.06, 0.1))
    fade = np.minimum(1.0, (n - np.arange(n)) / (0.02 * rate))  # no click at the end
    burst = (breath / breath.std() + 0.4 * voiced / voiced.std() * np.exp(-t / 0.05)) \
        * envelope * fade
    return _peak(burst)


def noise_burst(seed: int, kind: BurstKind = "door", rate: int = 16000) -> Pcm:
    """A non-speech burst, full band at ``rate``: "door" (a slam: a low thump, a click
    and a rattle, about 0.5 s) or "rustle" (0.6-1 s of crackling high noise)."""
    rng = np.random.default_rng(seed)
    if kind == "door":
        n = int(0.5 * rate)
        t = np.arange(n) / rate
        thump = sum((rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(60, 180) * t)
                     * np.exp(-t / rng.uniform(0.05, 0.15)) for _ in range(3)),
                    start=np.zeros(n))
        click = rng.standard_normal(n) * np.exp(-t / 0.003)
        rattle = _shaped(rng.standard_normal(n), rate,
                         lambda f: np.exp(-(((f - 2500) / 1200) ** 2)))
        delay = int(rng.uniform(0.005, 0.02) * rate)
        rattle = np.concatenate([np.zeros(delay), rattle[:n - delay]]) * np.exp(-t / 0.04)
        return _peak(thump + 0.6 * click + 0.5 * rattle / rattle.std())
    n = int(rng.uniform(0.6, 1.0) * rate)
    crackle = np.abs(_wander(n, rate, rng, 30.0)) ** 2 * np.hanning(n)
    hiss = _shaped(rng.standard_normal(n), rate, lambda f: f / (f + 2000))
    return _peak(hiss * crackle)


def _wander(n: int, rate: int, rng: np.random.Generator, hz: float) -> Signal:
    """A smooth random signal changing about ``hz`` times a second, unit deviation."""
    points = rng.standard_normal(int(n / rate * hz) + 2)
    return np.interp(np.arange(n) / rate * hz, np.arange(len(points)), points)


def _shaped(signal: Signal, rate: int, gain: Callable[[Signal], Signal]) -> Signal:
    """``signal`` filtered by the magnitude response ``gain(frequency)`` (by FFT)."""
    frequencies = np.fft.rfftfreq(len(signal), 1 / rate).astype(np.float64)
    shaped: Signal = np.fft.irfft(np.fft.rfft(signal) * gain(frequencies), len(signal))
    return shaped


def _peak(signal: Signal) -> Pcm:
    return clip(signal / np.abs(signal).max() * 0.7 * _FULL_SCALE)


# Timelines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Where a piece of a timeline is audible, in seconds of the rendered file."""

    start: float
    end: float
    kind: str
    text: str = ""


@dataclass(frozen=True)
class _Piece:
    at: int
    pcm: Pcm
    kind: str
    text: str


class Timeline:
    """A caller's audio built from pieces (speech, coughs, noise bursts) and silences.

    :meth:`pause` and :meth:`add` move a cursor along; ``add(..., at=)`` places a piece at
    an absolute time instead (pieces may overlap: they are mixed). The file lasts until
    the cursor.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._pieces: list[_Piece] = []
        self._cursor = 0  # samples

    @property
    def cursor(self) -> float:
        """Where the next piece goes, in seconds (the end of the file so far)."""
        return self._cursor / self.rate

    def pause(self, seconds: float) -> None:
        self._cursor += round(seconds * self.rate)

    def add(self, pcm: Pcm, kind: str, text: str = "", at: float | None = None) -> None:
        """Place ``pcm`` (at the timeline's rate) at the cursor, or at ``at`` seconds."""
        start = self._cursor if at is None else round(at * self.rate)
        self._pieces.append(_Piece(start, pcm, kind, text))
        self._cursor = max(self._cursor, start + len(pcm))

    def render(self) -> tuple[Pcm, list[Span]]:
        """The mixed audio, and where each piece is audible in it (its quiet head and
        tail left out), in order of start."""
        mix = np.zeros(self._cursor)
        spans = []
        for piece in self._pieces:
            mix[piece.at:piece.at + len(piece.pcm)] += piece.pcm
            found = extent(piece.pcm, self.rate)
            if found is not None:
                spans.append(Span(round(piece.at / self.rate + found[0], 3),
                                  round(piece.at / self.rate + found[1], 3),
                                  piece.kind, piece.text))
        return clip(mix), sorted(spans, key=lambda span: span.start)


# Callers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sound:
    """A non-speech sound in a caller's script: "cough", "door" or "rustle"."""

    kind: Literal["cough", "door", "rustle"]


#: A caller's script: words to say, pauses (seconds) and sounds, in order.
Part = str | float | Sound


def caller_audio(script: Sequence[Part], speaker: Voice | None, *, rate: int = 8000,
                 lead: float = 0.0, after: float = 0.0, level: float = -21.0,
                 noise: NoiseKind | None = None, snr: float = 15.0, seed: int = 0,
                 cache: Path | None = DEFAULT_CACHE) -> tuple[Pcm, list[Span]]:
    """A caller saying ``script`` on a narrowband (``rate`` 8000) or wideband (16000)
    line: ``lead`` seconds of silence, the script, ``after`` seconds of silence; at
    ``level`` dBFS, over ``noise`` at ``snr`` dB if any. Returns the audio and where each
    piece is audible (:meth:`Timeline.render`).

    Words around a pause are said as one sentence and cut there
    (:func:`synthesize_paused`); ``seed`` fixes the sounds and the noise. Blocking.
    """
    band = telephone_band if rate == 8000 else wideband
    words = [part for part in script if isinstance(part, str)]
    said: list[Pcm] = []
    said_rate = 0
    if speaker is not None and len(words) > 1:
        said, said_rate = synthesize_paused(speaker, words, cache)
    timeline = Timeline(rate)
    timeline.pause(lead)
    for index, part in enumerate(script):
        if isinstance(part, float):
            timeline.pause(part)
        elif isinstance(part, Sound):
            burst = cough(seed * 10 + index) if part.kind == "cough" else \
                noise_burst(seed * 10 + index, part.kind)
            timeline.add(trim(band(burst, 16000), rate), part.kind)
        else:
            if speaker is None:
                raise ValueError(f"no voice to say {part!r}")
            pcm, source_rate = (said.pop(0), said_rate) if said else \
                synthesize(speaker, part, cache)
            timeline.add(trim(band(pcm, source_rate), rate), "speech", part)
    timeline.pause(after)
    audio, spans = timeline.render()
    audio = at_level(audio, level, rate)
    if noise is not None:
        audio = with_noise(audio, snr, seed, noise, rate)
    return audio, spans
