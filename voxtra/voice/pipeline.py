"""A call's voice pipeline: caller audio → VAD → turns → STT, and text → TTS → audio.

One :class:`VoicePipeline` per call, reading the call's audio input (one
subscriber among others) and writing to its paced audio output. It reports
through the call's :class:`~voxtra.voice.emitter.EventEmitter`, keeps the voice
state, hands final transcripts to :meth:`VoicePipeline.listen`, speaks with
:meth:`VoicePipeline.say`, and cuts Voxtra short when the caller talks over it
(barge-in). Each finished turn's timings are reported as one ``metrics`` event.
Listening (VAD, turns, recognition, barge-in) is its :class:`~voxtra.voice.hearing.Hearing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass

from voxtra.tasks import TaskSet
from voxtra.voice.agent import AgentClient, AgentReply
from voxtra.voice.emitter import EventEmitter, Speaker
from voxtra.voice.endpointing import EndOfTurnModel
from voxtra.voice.errors import ProviderError, VoiceNotConfiguredError
from voxtra.voice.events import (
    Interrupted,
    ResponseEnded,
    ResponseStarted,
    SpeechResult,
    TurnMetrics,
    UserTranscriptEvent,
    VoiceState,
)
from voxtra.voice.hearing import Hearing, Turn
from voxtra.voice.io import AudioInput, AudioOutput
from voxtra.voice.llm import LLM
from voxtra.voice.realtime import RealtimeModel
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.speech import Speech
from voxtra.voice.stt import STT, BatchSTT, streaming
from voxtra.voice.tts import TTS
from voxtra.voice.vad import VAD, EnergyVAD


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


class VoicePipeline(Speaker):
    def __init__(self, providers: Providers, audio_in: AudioInput, audio_out: AudioOutput,
                 settings: VoiceSettings, events: EventEmitter,
                 agent: AgentClient | None = None) -> None:
        self._tts = providers.tts
        self._output = audio_out
        self.settings = settings
        super().__init__(events)
        self.agent = agent
        self._finals: asyncio.Queue[UserTranscriptEvent | ProviderError] = asyncio.Queue()
        self._tasks = TaskSet()
        #: The listening loop, and what runs it (None without a recogniser).
        self._hearing = None if providers.stt is None else Hearing(
            self, streaming(providers.stt), providers.vad or EnergyVAD(),
            providers.end_of_turn, audio_in)
        self._listening: asyncio.Task[None] | None = None
        self._say_lock = asyncio.Lock()
        self._speech: Speech | None = None
        self._speech_task: asyncio.Task[SpeechResult] | None = None
        #: The latest turn, and its metrics until the reply to it has been spoken.
        self._last_turn: Turn | None = None
        self._metrics: TurnMetrics | None = None
        #: The metrics of the reply being spoken (barge-in is measured into them).
        self._speaking_metrics: TurnMetrics | None = None
        #: The turn whose speech paused the reply being spoken, while it is judged.
        self._paused_by: Turn | None = None
        #: The latest turn to end, which the caller may yet go on with.
        self._unanswered: Turn | None = None

    # Lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start listening (once); without a recogniser only speaking works."""
        if self._listening is None and self._hearing is not None:
            self._listening = asyncio.create_task(self._hearing.run(), name="voice-hearing")
            self._set_state(VoiceState.LISTENING)

    async def aclose(self) -> None:
        if self._speech is not None and self._speech_task is not None:
            self._speech.interrupt()
            self._speech_task.cancel()
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listening
        if self._hearing is not None:
            await self._hearing.close()
        await self._tasks.close()
        self._set_state(VoiceState.IDLE)
        await self.events.aclose()

    # Verbs ---------------------------------------------------------------------

    async def listen(self, timeout: float | None = None) -> UserTranscriptEvent | None:
        """The caller's next final transcript; None after ``timeout`` seconds.

        Raises :class:`ProviderError` if the recogniser failed on that turn.
        """
        if self._hearing is None:
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
                if self._hearing is not None:
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
