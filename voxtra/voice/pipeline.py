"""A call's voice pipeline: caller audio → VAD → turns → STT, and text → TTS → audio.

One :class:`VoicePipeline` per call, reading the call's audio input (one
subscriber among others) and writing to its paced audio output. It reports
through the call's :class:`~voxtra.voice.emitter.EventEmitter`, keeps the voice
state, hands final transcripts to :meth:`VoicePipeline.listen`, speaks with
:meth:`VoicePipeline.say`, and cuts Voxtra short when the caller talks over it
(barge-in). Each finished turn's timings are reported as one ``metrics`` event.

The VAD judges a call's audio at the call's own rate when it can (a narrowband
call as narrowband: Silero's 16 kHz model misses band-limited speech that its
8 kHz mode hears). Caller speech over Voxtra's reply pauses the reply at once
and is then judged by its words: an interruption cuts the reply, anything else
(a noise, a cough, "uh-huh") lets it play on from where it stopped. A caller who goes
on after the turn was taken, before any reply has reached them, continues the turn: the
reply begun is dropped unheard and the turn is transcribed whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxtra.errors import ProviderError, VoxtraError
from voxtra.media.audio import AudioChunk
from voxtra.media.g711 import Pcm
from voxtra.media.resample import Resampler, resample
from voxtra.voice.agent import AgentClient, AgentReply
from voxtra.voice.emitter import EventEmitter
from voxtra.voice.endpointing import EndOfTurnModel
from voxtra.voice.events import (
    Interrupted,
    ResponseEnded,
    ResponsePaused,
    ResponseResumed,
    ResponseStarted,
    SpeechEnded,
    SpeechResult,
    SpeechStarted,
    StateChanged,
    TurnMetrics,
    UserTranscriptEvent,
    VoiceError,
    VoiceState,
)
from voxtra.voice.io import AudioInput, AudioOutput
from voxtra.voice.llm import LLM
from voxtra.voice.realtime import RealtimeModel
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.speech import Speech
from voxtra.voice.stt import STT, BatchSTT, STTStream, Transcript, streaming
from voxtra.voice.tts import TTS
from voxtra.voice.turns import TurnDetector, TurnSignal, TurnState, is_backchannel
from voxtra.voice.vad import VAD, EnergyVAD

log = logging.getLogger(__name__)

#: Seconds without a chunk of caller audio after which the pipeline counts silence
#: (a caller that sends no RTP while quiet must still end its turn).
AUDIO_GAP = 0.1
#: Seconds a caller takes to react to what they hear: speech that began sooner after a
#: reply's first audio was already under way, not an answer to the reply.
REACTION = 0.2


class VoiceNotConfiguredError(VoxtraError, RuntimeError):
    """A voice verb was used without the provider it needs."""


@dataclass
class Providers:
    """The models a pipeline uses; shared by all calls of an app."""

    stt: STT | BatchSTT | None = None
    tts: TTS | None = None
    llm: LLM | None = None
    vad: VAD | None = None
    realtime: RealtimeModel | None = None
    #: Judges at each pause whether the caller has finished (None: the words do).
    end_of_turn: EndOfTurnModel | None = None

    def load(self) -> None:
        """Load every model now (blocking): the first call then waits for none."""
        for provider in (self.stt, self.tts, self.llm, self.vad, self.realtime,
                         self.end_of_turn):
            if provider is not None:
                provider.load()


@dataclass
class _Turn:
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
    continues: _Turn | None = None
    #: The final transcript was handed to ``listen()``, and a reply to it begun.
    delivered: bool = False
    replied: bool = False
    #: When the first audio of a reply after this turn went out.
    answered_at: float | None = None
    #: The caller went on: a later turn holds this one's words.
    superseded: bool = False
    text: str = ""


@dataclass
class _Hearing:
    """The listening loop's state between chunks."""

    detector: TurnDetector
    prefix: deque[Pcm] = field(default_factory=deque)
    stream: STTStream | None = None
    turn: _Turn | None = None
    held: list[Pcm] = field(default_factory=list)
    #: The turn's audio so far, as the recogniser got it (the end-of-turn model's input).
    audio: list[Pcm] = field(default_factory=list)


class VoicePipeline:
    def __init__(self, providers: Providers, audio_in: AudioInput, audio_out: AudioOutput,
                 settings: VoiceSettings, events: EventEmitter,
                 agent: AgentClient | None = None) -> None:
        self._stt = streaming(providers.stt) if providers.stt is not None else None
        self._tts = providers.tts
        self._vad = providers.vad or EnergyVAD()
        self._end_of_turn = providers.end_of_turn
        self._input = audio_in
        self._output = audio_out
        self.settings = settings
        self.events = events
        self.agent = agent
        self.state = VoiceState.IDLE
        self._finals: asyncio.Queue[UserTranscriptEvent | ProviderError] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hearing: asyncio.Task[None] | None = None
        self._finishing: asyncio.Task[None] | None = None
        self._say_lock = asyncio.Lock()
        self._speech: Speech | None = None
        self._speech_task: asyncio.Task[SpeechResult] | None = None
        self._detector = TurnDetector(settings.turn, judged=self._end_of_turn is not None)
        #: The latest turn, and its metrics until the reply to it has been spoken.
        self._last_turn: _Turn | None = None
        self._metrics: TurnMetrics | None = None
        #: The metrics of the reply being spoken (barge-in is measured into them).
        self._speaking_metrics: TurnMetrics | None = None
        #: The turn whose speech paused the reply being spoken, while it is judged.
        self._paused_by: _Turn | None = None
        #: The latest turn to end, which the caller may yet go on with.
        self._unanswered: _Turn | None = None

    # Lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start listening (once); without a recogniser only speaking works."""
        if self._hearing is None and self._stt is not None:
            self._hearing = asyncio.create_task(self._hear(), name="voice-hearing")
            self._set_state(VoiceState.LISTENING)

    async def aclose(self) -> None:
        if self._speech is not None and self._speech_task is not None:
            self._speech.interrupt()
            self._speech_task.cancel()
        tasks = [t for t in (self._hearing, self._finishing, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._set_state(VoiceState.IDLE)
        await self.events.aclose()

    # Verbs ---------------------------------------------------------------------

    async def listen(self, timeout: float | None = None) -> UserTranscriptEvent | None:
        """The caller's next final transcript; None after ``timeout`` seconds.

        Raises :class:`ProviderError` if the recogniser failed on that turn.
        """
        if self._stt is None:
            raise VoiceNotConfiguredError("AI pipeline not configured: listen() needs an STT")
        self.start()
        try:
            item = await asyncio.wait_for(self._finals.get(), timeout)
        except TimeoutError:
            return None
        if isinstance(item, ProviderError):
            raise item
        return item

    async def say(self, text: str | AsyncIterable[str], *,
                  interruptible: bool = True) -> SpeechResult:
        """Speak ``text`` (or streamed pieces); returns when heard to the end or cut."""
        tts = self._tts
        if tts is None:
            raise VoiceNotConfiguredError("AI pipeline not configured: say() needs a TTS")
        self.start()
        async with self._say_lock:
            speech = Speech(text, tts, self._output, interruptible=interruptible,
                            first_audio_timeout=self.settings.tts_timeout)
            metrics = self._metrics or TurnMetrics()
            self._metrics = None
            if self._unanswered is not None and self._unanswered.delivered:
                self._unanswered.replied = True
            self._speech = speech
            self._speaking_metrics = metrics
            self._speech_task = asyncio.ensure_future(speech.run())
            speech.started.add_done_callback(lambda f: self._speaking(f, metrics))
            try:
                result = await asyncio.shield(self._speech_task)
            except asyncio.CancelledError:  # our caller gave up: stop what the caller hears
                if interruptible:
                    speech.interrupt()
                self._speech_task.cancel()
                raise
            except ProviderError as exc:
                self._output.clear()
                self._report(exc, speech.failed_stage or "tts")
                raise
            except Exception as exc:
                self._output.clear()
                stage = speech.failed_stage or "tts"
                error = ProviderError(stage, str(exc) or repr(exc))
                self._report(error, stage)
                raise error from exc
            finally:
                self._speech = self._speech_task = self._speaking_metrics = None
                self._paused_by = None
                if self._stt is not None:
                    self._set_state(VoiceState.LISTENING)
            if result.interrupted:
                self._keep_heard(text, result)
            metrics.tts_first_audio = speech.tts_first_audio
            if isinstance(text, AgentReply):
                metrics.llm_first_token = text.first_token
            elif self.agent is not None and self.agent.last_response is not None:
                metrics.llm_first_token = self.agent.last_response.first_token
                self.agent.last_response = None
            self.events.emit(ResponseEnded(result))
            self.events.emit(metrics)
            return result

    def _speaking(self, started: asyncio.Future[float], metrics: TurnMetrics) -> None:
        if started.cancelled():
            return
        at = started.result()
        if self._unanswered is not None and self._unanswered.answered_at is None:
            self._unanswered.answered_at = at
        self._set_state(VoiceState.SPEAKING)
        turn = self._last_turn
        if turn is not None and turn.ended_at is not None and metrics.voice_to_voice is None:
            metrics.voice_to_voice = at - turn.ended_at
            self._last_turn = None
        self.events.emit(ResponseStarted(at))

    def _keep_heard(self, text: str | AsyncIterable[str], result: SpeechResult) -> None:
        """The agent's history keeps only what the caller heard of a cut reply."""
        if isinstance(text, AgentReply):
            spoken = [m for m in text.messages if m.content]
            for message in spoken[:-1]:
                message.content = ""
            if spoken:
                spoken[-1].content = result.heard_text
        elif isinstance(text, str) and self.agent is not None:
            self.agent.heard(text, result.heard_text)

    def interrupt(self) -> Interrupted | None:
        """Cut what Voxtra is saying, as barge-in does: generation stops and the queued
        audio is dropped together. None if it was not speaking."""
        speech = self._speech
        if speech is None or self._speech_task is None:
            return None
        at = time.monotonic()
        to_silence = speech.interrupt()
        turn = self._paused_by
        if turn is not None and turn.paused_at is not None:  # silent since the pause
            at, to_silence = turn.paused_at, turn.to_silence
        self._paused_by = None
        self._speech_task.cancel()
        if self._speaking_metrics is not None:
            self._speaking_metrics.barge_in_to_silence = to_silence
        event = Interrupted(at, to_silence, speech.result)
        self.events.emit(event)
        return event

    # Hearing -------------------------------------------------------------------

    async def _hear(self) -> None:
        assert self._stt is not None
        vad_stream = None
        hearing = _Hearing(self._detector)
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
                probability = vad_stream.process(vad_pcm)
            except Exception as exc:
                self._report(ProviderError(type(self._vad).__name__, str(exc)), "vad")
                probability = 0.0
            self._step(hearing, now, probability, chunk.duration, pcm)

    def _step(self, hearing: _Hearing, now: float, probability: float, seconds: float,
              pcm: Pcm | None) -> None:
        """One chunk (or a gap, ``pcm`` None) through turn detection and recognition."""
        assert self._stt is not None
        detector = hearing.detector
        signal = detector.update(now, probability, seconds)
        if signal is TurnSignal.STARTED:
            previous = self._continued(detector.started_at)
            over_speech = self._speech
            if previous is not None:
                previous.superseded, over_speech = True, None
                if previous.delivered and self._speech is not None:
                    self.interrupt()  # the reply to the unfinished turn, barely begun
            # Over Voxtra's reply, an utterance is likely a backchannel: say so.
            hints = self.settings.turn.backchannel_words if over_speech is not None else []
            hearing.stream = self._stt.stream(hints)
            hearing.audio = [*(previous.audio if previous else []), *hearing.prefix]
            for piece in hearing.audio:
                hearing.stream.push(piece)
            hearing.prefix.clear()
            if previous is not None:  # its audio and history live on in this turn
                previous.audio, previous.continues = [], None
            hearing.turn = _Turn(previous.started_at if previous else detector.started_at,
                                 over_speech=over_speech, continues=previous)
            self.events.emit(SpeechStarted(detector.started_at))
        if pcm is not None:
            if hearing.stream is None:
                self._keep_prefix(hearing, pcm)
            else:
                hearing.audio.append(pcm)
                if detector.state is TurnState.PAUSED:
                    hearing.held.append(pcm)
                else:
                    for piece in hearing.held:
                        hearing.stream.push(piece)
                    hearing.held.clear()
                    hearing.stream.push(pcm)
        if hearing.turn is not None and hearing.stream is not None:
            self._over_speech(hearing.turn, hearing.stream, signal)
        if signal is TurnSignal.PAUSED and hearing.stream is not None:
            self._spawn(self._guess(hearing.stream, detector.paused_at))
            if self._end_of_turn is not None:
                self._spawn(self._judge(self._end_of_turn, list(hearing.audio),
                                        detector.paused_at))
        if hearing.stream is not None and hearing.turn is not None and detector.end_due(now):
            turn, stream = hearing.turn, hearing.stream
            turn.ended_at = detector.paused_at
            turn.speech = detector.speech_seconds
            turn.audio = hearing.audio[:len(hearing.audio) - len(hearing.held)]
            if turn.over_speech is None:
                self._unanswered = turn
            detector.reset()
            hearing.stream, hearing.turn = None, None
            # The pause's last moments may hold the start of the next turn's words.
            for piece in hearing.held:
                self._keep_prefix(hearing, piece)
            hearing.held.clear()
            hearing.audio = []
            self.events.emit(SpeechEnded(turn.ended_at, turn.ended_at - turn.started_at))
            if self._speech is None:
                self._set_state(VoiceState.PROCESSING)
            self._finishing = asyncio.create_task(self._finish(stream, turn, self._finishing))

    def _continued(self, started_at: float) -> _Turn | None:
        """The turn that speech starting at ``started_at`` continues, if any: the caller
        went on within ``continuation_window`` of its end, before they could have heard
        a reply (none had reached them, or one still playing began less than
        :data:`REACTION` before), and either its final was not handed over yet or a reply
        to it had begun."""
        turn = self._unanswered
        window = self.settings.turn.continuation_window
        if (turn is None or turn.superseded or turn.ended_at is None
                or started_at - turn.ended_at > window
                or (turn.delivered and not turn.replied)):
            return None
        if turn.answered_at is not None and (
                self._speech is None or started_at > turn.answered_at + REACTION):
            return None  # a reply was heard: whole, or long enough to answer it
        return turn

    async def _judge(self, model: EndOfTurnModel, audio: list[Pcm], paused_at: float) -> None:
        """The end-of-turn model's verdict on the turn so far, for this pause."""
        try:
            pcm = resample(np.concatenate(audio), self._stt_rate, model.sample_rate)
            verdict = await model.probability(pcm)
        except Exception as exc:
            self._report(ProviderError(type(model).__name__, str(exc) or repr(exc)),
                         "end_of_turn")
            return
        detector = self._detector
        if detector.state is TurnState.PAUSED and detector.paused_at == paused_at:
            detector.verdict = verdict

    def _keep_prefix(self, hearing: _Hearing, pcm: Pcm) -> None:
        hearing.prefix.append(pcm)
        limit = self.settings.turn.prefix_padding * self._stt_rate
        while sum(len(p) for p in hearing.prefix) - len(hearing.prefix[0]) >= limit:
            hearing.prefix.popleft()

    @property
    def _stt_rate(self) -> int:
        return self._stt.sample_rate if self._stt is not None else 16000

    async def _guess(self, stream: STTStream, paused_at: float) -> None:
        """Transcribe while the caller pauses: the guess decides whether the turn is
        over, and is the final transcript if it is."""
        try:
            transcript = await asyncio.wait_for(stream.interim(), self.settings.stt_timeout)
        except Exception as exc:
            log.debug("interim transcript failed: %s", exc)
            return
        detector = self._detector
        if detector.state is TurnState.PAUSED and detector.paused_at == paused_at:
            detector.guess = transcript.text
        self.events.emit(UserTranscriptEvent(transcript.text, transcript.confidence,
                                             detector.started_at, paused_at, final=False,
                                             language=transcript.language))

    async def _finish(self, stream: STTStream, turn: _Turn,
                      previous: asyncio.Task[None] | None) -> None:
        """The turn's final transcript, after the previous turn's (order is kept)."""
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        assert turn.ended_at is not None
        try:
            transcript = await self._final(stream)
        except ProviderError as exc:
            self._report(exc, "stt")
            if self._unanswered is turn:
                self._unanswered = None
            if turn.over_speech is not None and self._paused_by is turn:
                self._barge_in(turn, turn.over_speech)  # a failing recogniser still cuts
            self._finals.put_nowait(exc)
            return
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()
        if turn.superseded:  # the caller went on: the next turn holds these words
            self.events.emit(UserTranscriptEvent(transcript.text, transcript.confidence,
                                                 turn.started_at, turn.ended_at, final=False,
                                                 language=transcript.language))
            return
        meaningful = self._meaningful_over_speech(transcript)
        backchannel = turn.over_speech is not None and not turn.interrupted and not meaningful
        if (turn.over_speech is not None and meaningful and turn.over_speech.interruptible
                and self.settings.turn.interruptions
                and turn.speech >= self.settings.turn.min_interruption_speech):
            self._barge_in(turn, turn.over_speech)
        elif turn.over_speech is not None:
            self._resume(turn, turn.over_speech)
        continued = turn.continues
        continues = continued is not None and continued.delivered
        event = UserTranscriptEvent(transcript.text, transcript.confidence, turn.started_at,
                                    turn.ended_at, final=True, language=transcript.language,
                                    backchannel=backchannel, continues=continues)
        self.events.emit(event)
        if backchannel or not transcript.text.strip():
            if self._unanswered is turn:
                self._unanswered = None
            if self._speech is None:
                self._set_state(VoiceState.LISTENING)
            return
        if continues and continued is not None and self.agent is not None:
            self.agent.retract(continued.text)
        turn.text, turn.delivered = transcript.text, True
        self._last_turn = turn
        self._metrics = TurnMetrics(end_of_speech_to_transcript=time.monotonic() - turn.ended_at)
        self._finals.put_nowait(event)

    async def _final(self, stream: STTStream) -> Transcript:
        timeout = self.settings.stt_timeout
        try:
            return await asyncio.wait_for(stream.final(), timeout)
        except TimeoutError:
            raise ProviderError(type(self._stt).__name__,
                                f"no transcript within {timeout} s") from None
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(type(self._stt).__name__, str(exc) or repr(exc)) from exc

    def _over_speech(self, turn: _Turn, stream: STTStream, signal: TurnSignal | None) -> None:
        """Caller speech over Voxtra's reply, chunk by chunk: once it has lasted
        ``min_interruption_speech`` the reply pauses (silence at the caller at once);
        more than ``max_backchannel_speech`` of it, or words that are more than
        backchannel words, cut the reply; words judged at each of the caller's
        pauses, or at the end of the turn (:meth:`_finish`), that are not, resume it."""
        speech, settings = turn.over_speech, self.settings.turn
        if (speech is None or speech is not self._speech or turn.interrupted
                or not speech.interruptible or not settings.interruptions):
            return
        spoken = self._detector.speech_seconds
        if spoken < settings.min_interruption_speech:
            return
        if not settings.backchannel_words or spoken >= settings.max_backchannel_speech:
            self._barge_in(turn, speech)
            return
        if (self._paused_by is None and settings.resume_false_interruptions
                and self._detector.state is TurnState.SPEAKING
                and spoken - turn.judged_speech >= settings.min_interruption_speech):
            self._pause(turn, speech)
        if signal is TurnSignal.PAUSED:
            self._spawn(self._judge_words(stream, turn, speech, self._detector.paused_at))

    async def _judge_words(self, stream: STTStream, turn: _Turn, speech: Speech,
                           paused_at: float) -> None:
        """The caller paused while talking over ``speech``: their words so far cut it,
        or, if the caller is still silent, let it play on."""
        meaningful = await self._meaningful(stream)
        if turn.interrupted or self._speech is not speech:
            return
        detector = self._detector
        if meaningful:
            self._barge_in(turn, speech)
        elif turn.ended_at is not None or (detector.state is TurnState.PAUSED
                                           and detector.paused_at == paused_at):
            self._resume(turn, speech)

    def _pause(self, turn: _Turn, speech: Speech) -> None:
        turn.to_silence = speech.pause()
        turn.paused_at = time.monotonic()
        self._paused_by = turn
        self.events.emit(ResponsePaused(turn.paused_at, turn.to_silence))

    def _resume(self, turn: _Turn, speech: Speech) -> None:
        if self._paused_by is turn and turn.paused_at is not None:
            self._paused_by = None
            turn.judged_speech = self._detector.speech_seconds
            speech.resume()
            at = time.monotonic()
            self.events.emit(ResponseResumed(at, at - turn.paused_at))

    def _barge_in(self, turn: _Turn, speech: Speech) -> None:
        if self._speech is speech and not turn.interrupted:
            turn.interrupted = True
            self.interrupt()

    async def _meaningful(self, stream: STTStream) -> bool:
        """The caller said something that may interrupt (or could not be recognised: a
        failing recogniser must not disable barge-in)."""
        try:
            guess = await asyncio.wait_for(stream.interim(), self.settings.stt_timeout)
        except asyncio.CancelledError:
            raise
        except Exception:
            return True
        return self._meaningful_over_speech(guess)

    def _meaningful_over_speech(self, transcript: Transcript) -> bool:
        """Words said over Voxtra's speech that count: recognised with confidence, and
        not only backchannel words."""
        settings = self.settings.turn
        return (bool(transcript.text.strip())
                and transcript.confidence >= settings.min_overlap_confidence
                and not is_backchannel(transcript.text, settings.backchannel_words))

    # Reporting -----------------------------------------------------------------

    def _report(self, error: ProviderError, stage: str) -> None:
        log.warning("voice %s failed: %s", stage, error)
        self.events.emit(VoiceError(stage, error, error.retryable))

    def _set_state(self, state: VoiceState) -> None:
        if state is not self.state:
            self.state = state
            self.events.emit(StateChanged(state))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
