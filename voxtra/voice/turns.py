"""Turn-taking: when the caller starts speaking, pauses, resumes and has finished.

:class:`TurnDetector` is pure (fed with the VAD's speech probability and the
time of each chunk), so every rule here is tested without audio or a clock.
Its settings are one documented object, :class:`TurnSettings`.

End of turn: the silence after the caller's speech must last
``min_endpointing_delay`` when the turn looks complete, ``unsure_endpointing_delay``
when its words look finished but the end-of-turn model hears an unfinished turn, and
``max_endpointing_delay`` when the words do not look finished ("I would like to ..."),
so a pause inside a sentence does not end the turn. The words are the recogniser's guess
at the pause; the end-of-turn model
(:class:`~voxtra.voice.endpointing.EndOfTurnModel`) judges the turn's audio at each
pause when there is one. Words ending on "to", "the", "is" veto: the audio models tell
prosody, not syntax, and a synthetic or odd voice fools them (see ``bench/vad_bench.py``).
Without a model the words decide alone (a pluggable :data:`Completeness` rule). From a
recogniser that punctuates (Whisper), a guess that does not close with ".", "?" or "!"
("I would like to book a table") is a sentence perhaps broken off: the turn waits
``unsure_endpointing_delay`` at least (a digit string needs no punctuation).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class TurnSettings(BaseModel):
    """How Voxtra takes turns with the caller. Durations in seconds."""

    model_config = ConfigDict(extra="forbid")

    #: Speech probability (0..1) from which audio counts as speech.
    vad_threshold: float = Field(default=0.5, ge=0, le=1)
    #: Once speech has begun, it goes on while the probability stays at or above this
    #: (hysteresis, as Silero's own iterator does: ``vad_threshold`` - 0.15 when unset).
    #: On 8 kHz speech the model's probability swings with where its 32 ms windows fall:
    #: a short "Stop," can hover at 0.4-0.55 and, judged by one threshold, never make
    #: ``min_speech`` (``bench/vad_bench.py``).
    vad_release_threshold: float | None = Field(default=None, ge=0, le=1)
    #: Audio kept from before the detected start of speech and given to the recogniser.
    prefix_padding: float = Field(default=0.3, ge=0)
    #: Speech needed before a turn starts (shorter sounds are clicks and breaths).
    min_speech: float = Field(default=0.1, ge=0)
    #: Silence after speech before the caller counts as pausing.
    pause_after: float = Field(default=0.05, ge=0)
    #: Silence that ends a turn that looks complete (its words, and the end-of-turn
    #: model if there is one, agree). On the telephone corpus's turn items
    #: (``bench/voice_ux.py``, narrowband, the offline stack, an idle 2-core machine)
    #: 0.3 s cut 3 of 42 turns at a median reply 546 ms after the caller stopped, 0.4 s
    #: cut 2 of 42 at 646 ms.
    min_endpointing_delay: float = Field(default=0.4, ge=0)
    #: Silence that ends a turn whose words look finished but which the end-of-turn
    #: model judges unfinished ("Four five six" of a longer number).
    unsure_endpointing_delay: float = Field(default=0.6, ge=0)
    #: Silence that ends any turn (words that look unfinished, or none recognised).
    max_endpointing_delay: float = Field(default=1.0, ge=0)
    #: The end-of-turn model's probability from which a turn looks complete (the
    #: model's own 0.5). With ``continuation_window`` catching the shorter pauses, a
    #: higher threshold bought little: on the telephone corpus (``bench/voice_ux.py``,
    #: turn items only) 0.7 cut 5 of 42 turns with the median reply 832 ms after the
    #: caller stopped, 0.5 cut 5 at 752 ms; 0.8 later made more turns wait 0.6 s.
    end_of_turn_threshold: float = Field(default=0.5, ge=0, le=1)
    #: Speech that starts within this many seconds of a turn's end, before any reply
    #: to the turn was heard, continues the turn (a pause inside a sentence that the
    #: endpointing took for its end): a reply begun is dropped unheard and the turn is
    #: transcribed whole. 0: every turn ends at its endpoint.
    continuation_window: float = Field(default=1.5, ge=0)
    #: The caller may interrupt Voxtra by speaking (barge-in).
    interruptions: bool = True
    #: Caller speech over Voxtra's reply after which the reply stops (pauses, with
    #: ``resume_false_interruptions``) while the words are judged.
    min_interruption_speech: float = Field(default=0.1, ge=0)
    #: A reply paused by caller speech that turns out to be no interruption (no words,
    #: a noise, only backchannel words) plays on from where it stopped. Off: the reply
    #: plays on while the caller's words are judged, and is cut only if they interrupt.
    resume_false_interruptions: bool = True
    #: While Voxtra speaks, caller speech is judged by its words (backchannel or not)
    #: when the caller pauses, since a recogniser easily mishears a word cut in half;
    #: once an utterance holds more speech than this it interrupts at once, words
    #: unheard: a backchannel is short ("yeah, yeah, okay" is about 0.9 s, a drawn-out
    #: "hmm" 1 s). The reply is silent from ``min_interruption_speech`` on either way,
    #: so a longer bound delays only the decision, not the silence.
    max_backchannel_speech: float = Field(default=1.5, ge=0)
    #: While Voxtra speaks, the recogniser's confidence an utterance needs to interrupt or
    #: to count as a turn (below it, it is taken for noise or a mumble and ignored).
    min_overlap_confidence: float = Field(default=0.5, ge=0, le=1)
    #: Words that acknowledge rather than interrupt while Voxtra speaks. An utterance
    #: made only of these neither interrupts nor becomes a turn. Empty: any speech of
    #: ``min_interruption_speech`` interrupts at once (no recognition needed).
    backchannel_words: list[str] = Field(default_factory=lambda: [
        "uh-huh", "mm-hmm", "mhm", "hmm", "mm", "uh", "um", "oh", "ah", "aha", "ha", "huh", "yeah",
        "yep", "yes", "okay", "ok", "right", "sure", "i see", "got it", "alright"])


#: Words a spoken sentence rarely ends on: a pause after one is a pause inside a sentence.
#: A stranded preposition ("Where are you from?") then waits ``max_endpointing_delay``:
#: a late reply, where trusting a question mark would cut "Is it possible to?" short.
_UNFINISHED = frozenset({
    "a", "an", "the", "and", "or", "but", "because", "if", "than", "to", "of", "for",
    "with", "at", "by", "from", "into", "about", "my", "your", "our", "their", "his", "her",
    "its", "would", "could", "should", "will", "can", "may", "might", "must", "shall", "i",
    "we", "they", "he", "she", "is", "are", "was", "were", "am", "whether", "very", "um",
    "uh", "er", "like"})

Completeness = Callable[[str], bool]


def looks_finished(text: str) -> bool:
    """Words that do not end on one a sentence rarely ends on ("to", "the", "and", "my",
    "is", ...), nor on an ellipsis, a comma or a dash. Punctuation a recogniser adds
    (a question mark after "Can I pay with") is no evidence."""
    stripped = text.strip()
    if not stripped or stripped.endswith(("...", "…", ",", "-")):
        return False
    words = re.findall(r"[a-z0-9']+", stripped.lower())
    return bool(words) and words[-1] not in _UNFINISHED


def closed(text: str) -> bool:
    """The text closes with a sentence's final mark, or is a digit string (which a
    recogniser leaves unpunctuated: "1 2 3 4")."""
    stripped = text.strip()
    return stripped.endswith((".", "?", "!")) or bool(re.fullmatch(r"[\d\s,.-]+", stripped))


def is_backchannel(text: str, words: list[str]) -> bool:
    """True if ``text`` holds words and is made only of the backchannel ``words``.

    A hyphen separates words, so a recogniser's spelling ("uh-oh" for "uh huh") counts
    when its parts do."""
    spoken = _words(text)
    if not spoken:
        return False
    phrases = sorted((_words(w) for w in words), key=len, reverse=True)
    index = 0
    while index < len(spoken):
        for phrase in phrases:
            if phrase and spoken[index:index + len(phrase)] == phrase:
                index += len(phrase)
                break
        else:
            return False
    return True


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z ]", "", text.lower().replace("-", " ")).split()


class TurnState(StrEnum):
    QUIET = "quiet"
    SPEAKING = "speaking"
    PAUSED = "paused"


class TurnSignal(StrEnum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"


class TurnDetector:
    """Follows one caller's speech; :meth:`update` reports the changes."""

    def __init__(self, settings: TurnSettings, finished: Completeness = looks_finished,
                 judged: bool = False, punctuated: bool = False) -> None:
        self.settings = settings
        self.finished = finished
        #: The recogniser punctuates (:attr:`~voxtra.voice.stt.STT.punctuates`): a guess
        #: without a closing mark waits ``unsure_endpointing_delay``.
        self.punctuated = punctuated
        #: An end-of-turn model judges each pause (:attr:`verdict`); the turn waits
        #: for its verdict rather than go by the words alone.
        self.judged = judged
        self.state = TurnState.QUIET
        #: When the current turn's speech began, and when its latest pause began.
        self.started_at = 0.0
        self.paused_at = 0.0
        #: Seconds of speech (not pauses) in the current turn.
        self.speech_seconds = 0.0
        #: The recogniser's guess at the words so far (None while unknown).
        self.guess: str | None = None
        #: The end-of-turn model's probability that the turn is complete, judged at
        #: the current pause (None while unknown).
        self.verdict: float | None = None
        self._speech_run = 0.0
        self._silence_run = 0.0

    def update(self, now: float, probability: float, seconds: float) -> TurnSignal | None:
        """Take one chunk of ``seconds`` ending at ``now``."""
        settings = self.settings
        release = max(settings.vad_threshold - 0.15, 0.01) \
            if settings.vad_release_threshold is None else settings.vad_release_threshold
        going_on = self.state is TurnState.SPEAKING or self._speech_run > 0
        if probability >= (release if going_on else settings.vad_threshold):
            self._speech_run += seconds
            self._silence_run = 0.0
            if self.state is TurnState.SPEAKING:
                self.speech_seconds += seconds
        else:
            self._silence_run += seconds
            self._speech_run = 0.0
        if self.state is TurnState.SPEAKING:
            if self._silence_run >= settings.pause_after:
                self.state = TurnState.PAUSED
                self.paused_at = now - self._silence_run
                return TurnSignal.PAUSED
        elif self._speech_run >= settings.min_speech:
            began = now - self._speech_run
            signal = TurnSignal.STARTED if self.state is TurnState.QUIET else TurnSignal.RESUMED
            if signal is TurnSignal.STARTED:
                self.started_at = began
                self.speech_seconds = 0.0
            self.speech_seconds += self._speech_run
            self.state = TurnState.SPEAKING
            self.guess = self.verdict = None
            return signal
        return None

    def end_due(self, now: float) -> bool:
        """True once the pause has lasted long enough to end the turn. Never while a
        sound the VAD hears is under way: the caller may be going on (it becomes speech
        at ``min_speech``), so a pause is judged on what the caller did, not on how long
        the VAD takes to be sure."""
        if self.state is not TurnState.PAUSED or self._speech_run > 0:
            return False
        silence = now - self.paused_at
        settings = self.settings
        if silence >= settings.max_endpointing_delay:
            return True
        if silence < settings.min_endpointing_delay or self.guess is None \
                or not self.finished(self.guess):
            return False
        if self.punctuated and not closed(self.guess) and \
                silence < settings.unsure_endpointing_delay:
            return False
        if not self.judged:
            return True
        if self.verdict is None:  # the model is still judging
            return False
        return self.verdict >= settings.end_of_turn_threshold or \
            silence >= settings.unsure_endpointing_delay

    def reset(self) -> None:
        """The turn was taken: wait for the next one."""
        self.state = TurnState.QUIET
        self.guess = self.verdict = None
        self._speech_run = 0.0
