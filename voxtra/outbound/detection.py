"""Answering-machine detection on the call's own audio, on any Asterisk.

:class:`MachineDetector` follows the rules of Asterisk's ``AMD()`` application, with the
same parameters and defaults, fed a VAD's speech probability per chunk instead of an
energy threshold, plus a beep detector for "leave a message after the tone":

- no speech for ``initial_silence`` seconds: a machine (``initial_silence``);
- a word (speech of ``min_word_length`` or more, then ``between_words_silence``) takes
  the count to ``maximum_number_of_words``: a machine (``max_words``);
- speech in the greeting passes ``greeting`` seconds: a machine (``long_greeting``);
- a word longer than ``maximum_word_length``: a machine (``max_word_length``);
- a beep: a machine (``beep``);
- after speech, silence of ``after_greeting_silence``: a human (``human``);
- nothing decided within ``total_analysis_time``: unsure (``too_long``).

Human first: a person who answers "Hello? ... Hello?" says two words, which ``AMD()``'s
default of 2 takes for a machine; the default here is 4, and a caller of the detector
treats unsure as human (a person hung up on is worse than a machine spoken to).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from voxtra.call.errors import DialplanError
from voxtra.media.audio import AudioChunk, Pcm
from voxtra.media.resample import Resampler
from voxtra.voice.vad import VAD

if TYPE_CHECKING:
    from voxtra.call.session import CallSession


class Answerer(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    UNSURE = "unsure"


class DetectionSettings(BaseModel):
    """``AMD()``'s parameters, in seconds (its defaults in milliseconds: 2500, 1500, 800,
    5000, 100, 50, 2, 5000), but ``maximum_number_of_words`` (see the module)."""

    model_config = ConfigDict(extra="forbid")

    initial_silence: float = Field(default=2.5, gt=0)
    greeting: float = Field(default=1.5, gt=0)
    after_greeting_silence: float = Field(default=0.8, gt=0)
    total_analysis_time: float = Field(default=5.0, gt=0)
    min_word_length: float = Field(default=0.1, ge=0)
    between_words_silence: float = Field(default=0.05, ge=0)
    maximum_number_of_words: int = Field(default=4, ge=1)
    maximum_word_length: float = Field(default=5.0, gt=0)
    #: Speech probability from which a chunk counts as voice.
    vad_threshold: float = Field(default=0.5, ge=0, le=1)
    #: A tone this long (a steady frequency of 400-2500 Hz holding most of the energy)
    #: is a voicemail beep.
    beep: float = Field(default=0.15, gt=0)
    #: ``AMD()`` only (:func:`asterisk_amd`): the average sample level (0-32767) under
    #: which audio is silence. Its 256 is about -42 dBFS: a line noisier than that is
    #: heard as one long greeting.
    silence_threshold: int = Field(default=256, ge=0, le=32767)

    def amd_arguments(self) -> str:
        """These settings as ``AMD()``'s arguments (milliseconds)."""
        ms = [self.initial_silence, self.greeting, self.after_greeting_silence,
              self.total_analysis_time, self.min_word_length, self.between_words_silence]
        return ",".join([*(str(round(v * 1000)) for v in ms), str(self.maximum_number_of_words),
                         str(self.silence_threshold), str(round(self.maximum_word_length * 1000))])


@dataclass(frozen=True)
class Detection:
    """Who answered, why (``cause``), and what was heard: seconds from the answer to the
    decision, of speech, and words counted."""

    answerer: Answerer
    cause: str
    decided_after: float
    speech: float
    words: int


class MachineDetector:
    """Follows one answered call's audio; :meth:`update` returns the decision once made."""

    def __init__(self, settings: DetectionSettings | None = None, rate: int = 8000) -> None:
        self.settings = settings or DetectionSettings()
        self.rate = rate
        self.elapsed = 0.0
        self.speech = 0.0
        self.words = 0
        self._heard_speech = False
        self._voice_run = 0.0
        self._silence_run = 0.0
        self._in_word = False
        self._tone = ToneTracker(rate)
        self.decision: Detection | None = None

    def update(self, probability: float, pcm: Pcm) -> Detection | None:
        """Take one chunk of the callee's audio with its speech probability."""
        if self.decision is not None:
            return self.decision
        settings = self.settings
        seconds = len(pcm) / self.rate
        self.elapsed += seconds
        if self._tone.update(pcm) >= settings.beep:
            return self._decide(Answerer.MACHINE, "beep")
        if probability >= settings.vad_threshold:
            self._heard_speech = True
            self.speech += seconds
            self._voice_run += seconds
            self._silence_run = 0.0
            if not self._in_word and self._voice_run >= settings.min_word_length:
                self._in_word = True
                self.words += 1
                if self.words >= settings.maximum_number_of_words:
                    return self._decide(Answerer.MACHINE, "max_words")
            if self._voice_run > settings.maximum_word_length:
                return self._decide(Answerer.MACHINE, "max_word_length")
            if self.speech > settings.greeting:
                return self._decide(Answerer.MACHINE, "long_greeting")
        else:
            self._silence_run += seconds
            if self._silence_run >= settings.between_words_silence:
                self._voice_run, self._in_word = 0.0, False
            if not self._heard_speech and self._silence_run >= settings.initial_silence:
                return self._decide(Answerer.MACHINE, "initial_silence")
            if self._heard_speech and self._silence_run >= settings.after_greeting_silence:
                return self._decide(Answerer.HUMAN, "human")
        if self.elapsed >= settings.total_analysis_time:
            return self._decide(Answerer.UNSURE, "too_long")
        return None

    def end(self, cause: str) -> Detection:
        """The audio ended before a decision: unsure, for ``cause``."""
        return self.decision or self._decide(Answerer.UNSURE, cause)

    def _decide(self, answerer: Answerer, cause: str) -> Detection:
        self.decision = Detection(answerer, cause, round(self.elapsed, 3),
                                  round(self.speech, 3), self.words)
        return self.decision


class ToneTracker:
    """How long a steady tone has lasted: a voicemail beep is one frequency, 400-2500 Hz,
    holding most of the energy of each 20 ms, for a tenth of a second or more; speech
    moves between frequencies and spreads its energy."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.seconds = 0.0
        self._frequency: float | None = None

    def update(self, pcm: Pcm) -> float:
        """Take a chunk; seconds of the current tone (0 when there is none)."""
        frequency = self._tone_of(pcm)
        steady = (frequency is not None and self._frequency is not None
                  and abs(frequency - self._frequency) <= 40)
        self.seconds = self.seconds + len(pcm) / self.rate if steady else 0.0
        self._frequency = frequency
        return self.seconds

    def _tone_of(self, pcm: Pcm) -> float | None:
        samples = pcm.astype(np.float64)
        if len(samples) < 64 or np.sqrt(np.mean(samples**2)) < 100:  # about -50 dBFS
            return None
        window = samples * np.hanning(len(samples))
        spectrum = np.abs(np.fft.rfft(window, n=4 * len(samples))) ** 2
        frequencies = np.fft.rfftfreq(4 * len(samples), 1 / self.rate)
        peak = int(np.argmax(spectrum))
        near = spectrum[max(0, peak - 6):peak + 7].sum()
        if not 400 <= frequencies[peak] <= 2500 or near < 0.8 * spectrum.sum():
            return None
        return float(frequencies[peak])


async def detect_answerer(audio: AsyncIterable[AudioChunk], vad: VAD,
                          settings: DetectionSettings | None = None) -> Detection:
    """Listen to an answered call (``call.audio_stream()``) until :class:`MachineDetector`
    decides; unsure if the audio ends first (the callee hung up)."""
    detector: MachineDetector | None = None
    async for chunk in audio:
        if detector is None:  # the call's rate is known from its first chunk
            detector = MachineDetector(settings, chunk.sample_rate)
            rate = vad.rate_for(chunk.sample_rate)
            stream, to_vad = vad.stream(rate), Resampler(chunk.sample_rate, rate)
        decision = detector.update(stream.process(to_vad.process(chunk.pcm)), chunk.pcm)
        if decision is not None:
            return decision
    return (detector or MachineDetector(settings)).end("hangup")


async def wait_for_beep(audio: AsyncIterable[AudioChunk], timeout: float = 15.0,
                        beep: float = 0.15) -> bool:
    """Wait for a voicemail's beep on ``call.audio_stream()`` (True), at most ``timeout``
    seconds of audio (False): leave the message after it."""
    tracker: ToneTracker | None = None
    heard = 0.0
    async for chunk in audio:
        tracker = tracker or ToneTracker(chunk.sample_rate)
        heard += chunk.duration
        if tracker.update(chunk.pcm) >= beep:
            return True
        if heard >= timeout:
            break
    return False


#: ``AMDSTATUS`` and the first part of ``AMDCAUSE`` (``LONGGREETING-1550-1500``) as the
#: audio detector names them.
_AMD_STATUS = {"HUMAN": Answerer.HUMAN, "MACHINE": Answerer.MACHINE}
_AMD_CAUSES = {"INITIALSILENCE": "initial_silence", "HUMAN": "human",
               "LONGGREETING": "long_greeting", "MAXWORDS": "max_words",
               "MAXWORDLENGTH": "max_word_length", "TOOLONG": "too_long"}


async def asterisk_amd(call: CallSession, settings: DetectionSettings | None = None,
                       context: str = "voxtra-amd") -> Detection:
    """Asterisk's own ``AMD()`` on an answered call: the call visits ``context`` (the
    bundled dialplan's; on another Asterisk, add its three lines and load app_amd) and
    comes back with ``AMDSTATUS`` and ``AMDCAUSE``. Run it before the call joins a
    bridge or uses its audio."""
    settings = settings or DetectionSettings()
    began = time.monotonic()
    try:
        args = await call.visit_dialplan(context, "detect",
                                         variables={"VOXTRA_AMD": settings.amd_arguments()},
                                         timeout=settings.total_analysis_time + 10)
    except DialplanError as exc:
        raise DialplanError(
            f"{exc}. Asterisk's AMD() needs, in extensions.conf: [{context}] / exten => "
            "detect,1,AMD(${VOXTRA_AMD}) / same => n,Stasis(${VOXTRA_APP},voxtra-amd,"
            "${AMDSTATUS},${AMDCAUSE}) / same => n,Hangup(); and app_amd loaded (with an "
            "amd.conf); or use machine detection on the call's audio") from None
    status, cause = [*args[1:3], "", ""][:2] if args[:1] == ["voxtra-amd"] else ["", ""]
    return Detection(_AMD_STATUS.get(status, Answerer.UNSURE),
                     _AMD_CAUSES.get(cause.split("-")[0], cause.lower() or "unknown"),
                     round(time.monotonic() - began, 3), 0.0, 0)
