"""A voice pipeline's ears: the caller's audio through the VAD, turn detection and the
recogniser, to final transcripts; and caller speech over Voxtra's reply judged as a
barge-in, a backchannel or nothing.

The VAD judges a call's audio at the call's own rate when it can (a narrowband call as
narrowband: Silero's 16 kHz model misses band-limited speech that its 8 kHz mode hears).
Caller speech over Voxtra's reply pauses the reply at once and is then judged by its
words: an interruption cuts the reply, anything else (a noise, a cough, "uh-huh") lets
it play on from where it stopped. A caller who goes on after the turn was taken, before
any reply has reached them, continues the turn: the reply begun is dropped unheard and
the turn is transcribed whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from voxtra.media.audio import AudioChunk, Pcm
from voxtra.media.resample import Resampler, resample
from voxtra.voice.endpointing import EndOfTurnModel
from voxtra.voice.errors import ProviderError
from voxtra.voice.events import (
    ResponsePaused,
    ResponseResumed,
    SpeechEnded,
    SpeechStarted,
    TurnMetrics,
    UserTranscriptEvent,
    VoiceState,
)
from voxtra.voice.io import AudioInput
from voxtra.voice.speech import Speech
from voxtra.voice.stt import STT, STTStream, Transcript
from voxtra.voice.turns import TurnDetector, TurnSignal, TurnState, is_backchannel
from voxtra.voice.vad import VAD

if TYPE_CHECKING:
    from voxtra.voice.pipeline import VoicePipeline

log = logging.getLogger(__name__)

#: Seconds without a chunk of caller audio after which the pipeline counts silence
#: (a caller that sends no RTP while quiet must still end its turn).
AUDIO_GAP = 0.1
#: Seconds a caller takes to react to what they hear: speech that began sooner after a
#: reply's first audio was already under way, not an answer to the reply.
REACTION = 0.2


@dataclass
class Turn:
    started_at: float
    #: What Voxtra was saying when the caller started: the utterance may be a backchannel.
    over_speech: Speech | None
    ended_at: float | None = None
    interrupted: bool = False
    #: When Voxtra's reply was paused for this turn's speech (None: it was not).
    paused_at: float | None = None
    to_silence: float = 0.0
    #: Seconds of the turn's speech judged no interruption (the reply was resumed).
    judged_speech: float = 0.0
    #: Seconds of speech in the turn, once it has ended.
    speech: float = 0.0
    #: The turn's audio as the recogniser got it, once it has ended (a continuation
    #: is transcribed from its start).
    audio: list[Pcm] = field(default_factory=list)
    #: The turn this one continues: the caller went on before any reply was heard.
    continues: Turn | None = None
    #: The final transcript was handed to ``listen()``, and a reply to it begun.
    delivered: bool = False
    replied: bool = False
    #: When the first audio of a reply after this turn went out.
    answered_at: float | None = None
    #: The caller went on: a later turn holds this one's words.
    superseded: bool = False
    text: str = ""


@dataclass
class _Ears:
    """The listening loop's state between chunks."""

    detector: TurnDetector
    prefix: deque[Pcm] = field(default_factory=deque)
    stream: STTStream | None = None
    turn: Turn | None = None
    held: list[Pcm] = field(default_factory=list)
    #: The turn's audio so far, as the recogniser got it (the end-of-turn model's input).
    audio: list[Pcm] = field(default_factory=list)


class Hearing:
    """Listens to one call for its :class:`~voxtra.voice.pipeline.VoicePipeline`."""

    def __init__(self, voice: VoicePipeline, stt: STT, vad: VAD,
                 end_of_turn: EndOfTurnModel | None, audio_in: AudioInput) -> None:
        self._voice = voice
        self._stt = stt
        self._vad = vad
        self._end_of_turn = end_of_turn
        self._input = audio_in
        self._detector = TurnDetector(voice.settings.turn, judged=end_of_turn is not None,
                                      punctuated=stt.punctuates)
        #: The latest turn's final transcription (each waits for the one before).
        self._finishing: asyncio.Task[None] | None = None

    async def close(self) -> None:
        """Stop transcribing (the pipeline closes)."""
        if self._finishing is not None:
            self._finishing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._finishing

    async def run(self) -> None:
        """Listen until the call's audio ends."""
        assert self._stt is not None
        vad_stream = None
        hearing = _Ears(self._detector)
        to_vad: Resampler | None = None
        to_stt: Resampler | None = None
        chunks = self._input.subscribe().__aiter__()
        while True:
            chunk: AudioChunk | None = None
            try:
                async with asyncio.timeout(AUDIO_GAP):  # no task per chunk, unlike wait_for
                    chunk = await anext(chunks)
            except TimeoutError:
                pass
            except StopAsyncIteration:
                return
            now = time.monotonic()
            if chunk is None:
                self._step(hearing, now, 0.0, AUDIO_GAP, None)
                continue
            if to_vad is None or vad_stream is None:
                vad_rate = self._vad.rate_for(chunk.sample_rate)
                vad_stream = self._vad.stream(vad_rate)
                to_vad = Resampler(chunk.sample_rate, vad_rate)
                to_stt = to_vad if self._stt.sample_rate == vad_rate else \
                    Resampler(chunk.sample_rate, self._stt.sample_rate)
            assert to_stt is not None
            vad_pcm = to_vad.process(chunk.pcm)
            pcm = vad_pcm if to_stt is to_vad else to_stt.process(chunk.pcm)
            try:
                probability = await vad_stream.judge(vad_pcm)
            except Exception as exc:
                self._voice._report(ProviderError(type(self._vad).__name__, str(exc)), "vad")
                probability = 0.0
            self._step(hearing, now, probability, chunk.duration, pcm)

    def _step(self, hearing: _Ears, now: float, probability: float, seconds: float,
              pcm: Pcm | None) -> None:
        """One chunk (or a gap, ``pcm`` None) through turn detection and recognition."""
        assert self._stt is not None
        detector = hearing.detector
        signal = detector.update(now, probability, seconds)
        if signal is TurnSignal.STARTED:
            previous = self._continued(detector.started_at)
            over_speech = self._voice._speech
            if previous is not None:
                previous.superseded, over_speech = True, None
                if previous.delivered and self._voice._speech is not None:
                    self._voice.interrupt()  # the reply to the unfinished turn, barely begun
            # Over Voxtra's reply, an utterance is likely a backchannel: say so.
            hints = self._voice.settings.turn.backchannel_words if over_speech is not None else []
            hearing.stream = self._stt.stream(hints)
            hearing.audio = [*(previous.audio if previous else []), *hearing.prefix]
            for piece in hearing.audio:
                hearing.stream.feed(piece)
            hearing.prefix.clear()
            if previous is not None:  # its audio and history live on in this turn
                previous.audio, previous.continues = [], None
            hearing.turn = Turn(previous.started_at if previous else detector.started_at,
                                 over_speech=over_speech, continues=previous)
            self._voice.events.emit(SpeechStarted(detector.started_at))
        if pcm is not None:
            if hearing.stream is None:
                self._keep_prefix(hearing, pcm)
            else:
                hearing.audio.append(pcm)
                if detector.state is TurnState.PAUSED:
                    hearing.held.append(pcm)
                else:
                    for piece in hearing.held:
                        hearing.stream.feed(piece)
                    hearing.held.clear()
                    hearing.stream.feed(pcm)
        if hearing.turn is not None and hearing.stream is not None:
            self._over_speech(hearing.turn, hearing.stream, signal)
        if signal is TurnSignal.PAUSED and hearing.stream is not None:
            self._voice._tasks.spawn(self._guess(hearing.stream, detector.paused_at))
            if self._end_of_turn is not None:
                self._voice._tasks.spawn(self._judge(self._end_of_turn, list(hearing.audio),
                                        detector.paused_at))
        if hearing.stream is not None and hearing.turn is not None and detector.end_due(now):
            turn, stream = hearing.turn, hearing.stream
            turn.ended_at = detector.paused_at
            turn.speech = detector.speech_seconds
            turn.audio = hearing.audio[:len(hearing.audio) - len(hearing.held)]
            if turn.over_speech is None:
                self._voice._unanswered = turn
            detector.reset()
            hearing.stream, hearing.turn = None, None
            # The pause's last moments may hold the start of the next turn's words.
            for piece in hearing.held:
                self._keep_prefix(hearing, piece)
            hearing.held.clear()
            hearing.audio = []
            self._voice.events.emit(SpeechEnded(turn.ended_at, turn.ended_at - turn.started_at))
            if self._voice._speech is None:
                self._voice._set_state(VoiceState.PROCESSING)
            self._finishing = asyncio.create_task(self._finish(stream, turn, self._finishing))

    def _continued(self, started_at: float) -> Turn | None:
        """The turn that speech starting at ``started_at`` continues, if any: the caller
        went on within ``continuation_window`` of its end, before they could have heard
        a reply (none had reached them, or one still playing began less than
        :data:`REACTION` before), and either its final was not handed over yet or a reply
        to it had begun."""
        turn = self._voice._unanswered
        window = self._voice.settings.turn.continuation_window
        if (turn is None or turn.superseded or turn.ended_at is None
                or started_at - turn.ended_at > window
                or (turn.delivered and not turn.replied)):
            return None
        if turn.answered_at is not None and (
                self._voice._speech is None or started_at > turn.answered_at + REACTION):
            return None  # a reply was heard: whole, or long enough to answer it
        return turn

    async def _judge(self, model: EndOfTurnModel, audio: list[Pcm], paused_at: float) -> None:
        """The end-of-turn model's verdict on the turn so far, for this pause."""
        try:
            pcm = resample(np.concatenate(audio), self._stt_rate, model.sample_rate)
            verdict = await model.probability(pcm)
        except Exception as exc:
            self._voice._report(ProviderError(type(model).__name__, str(exc) or repr(exc)),
                         "end_of_turn")
            return
        detector = self._detector
        if detector.state is TurnState.PAUSED and detector.paused_at == paused_at:
            detector.verdict = verdict

    def _keep_prefix(self, hearing: _Ears, pcm: Pcm) -> None:
        hearing.prefix.append(pcm)
        limit = self._voice.settings.turn.prefix_padding * self._stt_rate
        while sum(len(p) for p in hearing.prefix) - len(hearing.prefix[0]) >= limit:
            hearing.prefix.popleft()

    @property
    def _stt_rate(self) -> int:
        return self._stt.sample_rate if self._stt is not None else 16000

    async def _guess(self, stream: STTStream, paused_at: float) -> None:
        """Transcribe while the caller pauses: the guess decides whether the turn is
        over, and is the final transcript if it is."""
        try:
            transcript = await asyncio.wait_for(stream.interim(), self._voice.settings.stt_timeout)
        except Exception as exc:
            log.debug("interim transcript failed: %s", exc)
            return
        detector = self._detector
        if detector.state is TurnState.PAUSED and detector.paused_at == paused_at:
            detector.guess = transcript.text
        self._voice.events.emit(UserTranscriptEvent(transcript.text, transcript.confidence,
                                             detector.started_at, paused_at, final=False,
                                             language=transcript.language))

    async def _finish(self, stream: STTStream, turn: Turn,
                      previous: asyncio.Task[None] | None) -> None:
        """The turn's final transcript, after the previous turn's (order is kept)."""
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        assert turn.ended_at is not None
        try:
            transcript = await self._final(stream)
        except ProviderError as exc:
            self._voice._report(exc, "stt")
            if self._voice._unanswered is turn:
                self._voice._unanswered = None
            if turn.over_speech is not None and self._voice._paused_by is turn:
                self._barge_in(turn, turn.over_speech)  # a failing recogniser still cuts
            self._voice._finals.put_nowait(exc)
            return
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()
        if turn.superseded:  # the caller went on: the next turn holds these words
            self._voice.events.emit(UserTranscriptEvent(transcript.text, transcript.confidence,
                                                 turn.started_at, turn.ended_at, final=False,
                                                 language=transcript.language))
            return
        meaningful = self._meaningful_over_speech(transcript)
        backchannel = turn.over_speech is not None and not turn.interrupted and not meaningful
        if (turn.over_speech is not None and meaningful and turn.over_speech.interruptible
                and self._voice.settings.turn.interruptions
                and turn.speech >= self._voice.settings.turn.min_interruption_speech):
            self._barge_in(turn, turn.over_speech)
        elif turn.over_speech is not None:
            self._resume(turn, turn.over_speech)
        continued = turn.continues
        continues = continued is not None and continued.delivered
        event = UserTranscriptEvent(transcript.text, transcript.confidence, turn.started_at,
                                    turn.ended_at, final=True, language=transcript.language,
                                    backchannel=backchannel, continues=continues)
        self._voice.events.emit(event)
        if backchannel or not transcript.text.strip():
            if self._voice._unanswered is turn:
                self._voice._unanswered = None
            if self._voice._speech is None:
                self._voice._set_state(VoiceState.LISTENING)
            return
        if continues and continued is not None and self._voice.agent is not None:
            self._voice.agent.retract(continued.text)
        turn.text, turn.delivered = transcript.text, True
        self._voice._last_turn = turn
        self._voice._metrics = TurnMetrics(
            end_of_speech_to_transcript=time.monotonic() - turn.ended_at)
        self._voice._finals.put_nowait(event)

    async def _final(self, stream: STTStream) -> Transcript:
        timeout = self._voice.settings.stt_timeout
        try:
            return await asyncio.wait_for(stream.final(), timeout)
        except TimeoutError:
            raise ProviderError(type(self._stt).__name__,
                                f"no transcript within {timeout} s") from None
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(type(self._stt).__name__, str(exc) or repr(exc)) from exc

    def _over_speech(self, turn: Turn, stream: STTStream, signal: TurnSignal | None) -> None:
        """Caller speech over Voxtra's reply, chunk by chunk: once it has lasted
        ``min_interruption_speech`` the reply pauses (silence at the caller at once);
        more than ``max_backchannel_speech`` of it, or words that are more than
        backchannel words, cut the reply; words judged at each of the caller's
        pauses, or at the end of the turn (:meth:`_finish`), that are not, resume it."""
        speech, settings = turn.over_speech, self._voice.settings.turn
        if (speech is None or speech is not self._voice._speech or turn.interrupted
                or not speech.interruptible or not settings.interruptions):
            return
        spoken = self._detector.speech_seconds
        if spoken < settings.min_interruption_speech:
            return
        if not settings.backchannel_words or spoken >= settings.max_backchannel_speech:
            self._barge_in(turn, speech)
            return
        if (self._voice._paused_by is None and settings.resume_false_interruptions
                and self._detector.state is TurnState.SPEAKING
                and spoken - turn.judged_speech >= settings.min_interruption_speech):
            self._pause(turn, speech)
        if signal is TurnSignal.PAUSED:
            self._voice._tasks.spawn(
                self._judge_words(stream, turn, speech, self._detector.paused_at))

    async def _judge_words(self, stream: STTStream, turn: Turn, speech: Speech,
                           paused_at: float) -> None:
        """The caller paused while talking over ``speech``: their words so far cut it;
        words that are only backchannel let it play on if the caller is still silent. No
        words yet decides nothing: a streaming recogniser may not have caught up with
        the speech, and the turn's end (:meth:`_finish`) judges it whole."""
        try:
            guess = await asyncio.wait_for(stream.interim(), self._voice.settings.stt_timeout)
        except asyncio.CancelledError:
            raise
        except Exception:
            guess = None  # a failing recogniser must not disable barge-in
        if turn.interrupted or self._voice._speech is not speech:
            return
        detector = self._detector
        if guess is None or self._meaningful_over_speech(guess):
            self._barge_in(turn, speech)
        elif guess.text.strip() and (turn.ended_at is not None or (
                detector.state is TurnState.PAUSED and detector.paused_at == paused_at)):
            self._resume(turn, speech)

    def _pause(self, turn: Turn, speech: Speech) -> None:
        turn.to_silence = speech.pause()
        turn.paused_at = time.monotonic()
        self._voice._paused_by = turn
        self._voice.events.emit(ResponsePaused(turn.paused_at, turn.to_silence))

    def _resume(self, turn: Turn, speech: Speech) -> None:
        if self._voice._paused_by is turn and turn.paused_at is not None:
            self._voice._paused_by = None
            turn.judged_speech = self._detector.speech_seconds
            speech.resume()
            at = time.monotonic()
            self._voice.events.emit(ResponseResumed(at, at - turn.paused_at))

    def _barge_in(self, turn: Turn, speech: Speech) -> None:
        if self._voice._speech is speech and not turn.interrupted:
            turn.interrupted = True
            self._voice.interrupt()

    def _meaningful_over_speech(self, transcript: Transcript) -> bool:
        """Words said over Voxtra's speech that count: recognised with confidence, and
        not only backchannel words."""
        settings = self._voice.settings.turn
        return (bool(transcript.text.strip())
                and transcript.confidence >= settings.min_overlap_confidence
                and not is_backchannel(transcript.text, settings.backchannel_words))

