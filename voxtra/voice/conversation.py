"""A call's conversation with a speech-to-speech model: ``call.converse()``.

:class:`RealtimeConversation` streams the caller's audio to a
:class:`~voxtra.voice.realtime.RealtimeSession` and plays the model's audio
through the call's paced output. It reports the same events, voice states and
per-turn metrics as the STT → LLM → TTS pipeline, keeps the conversation's
:attr:`~RealtimeConversation.history`, and runs the tools it was given.

Barge-in: when the caller starts speaking over a reply, the queued audio is
cleared at once and the model is told how much of the reply was heard
(truncation at the playout position), so its memory of the conversation holds
only what the caller heard. In the metrics, ``llm_first_token`` is the time from
the end of the caller's speech to the model's first audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from voxtra.media.clock import FRAME
from voxtra.media.pacer import Playout
from voxtra.tasks import TaskSet
from voxtra.voice.emitter import EventEmitter, Speaker
from voxtra.voice.errors import ProviderError
from voxtra.voice.events import (
    AgentResponseEvent,
    Interrupted,
    ResponseEnded,
    ResponseStarted,
    SpeechEnded,
    SpeechResult,
    SpeechStarted,
    TurnMetrics,
    UserTranscriptEvent,
    VoiceState,
)
from voxtra.voice.io import AudioInput, AudioOutput
from voxtra.voice.llm import ChatMessage, Tool, ToolCall
from voxtra.voice.realtime import (
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    ModelError,
    RealtimeEvent,
    RealtimeModel,
    RealtimeOptions,
    RealtimeSession,
    ReplyAudio,
    ReplyDone,
    ReplyStarted,
    ReplyText,
    ReplyToolCall,
)
from voxtra.voice.speech import heard_of, progress

STAGE = "realtime"


@dataclass
class _Reply:
    """One reply of the model's, from its first event until its audio has played."""

    response_id: str
    metrics: TurnMetrics
    began: float
    item_id: str | None = None
    text: str = ""
    playouts: list[Playout] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    generating: bool = True
    interrupted: bool = False

    @property
    def reached(self) -> int:
        """Frames of the reply's audio playback got past (:attr:`Playout.reached`)."""
        return progress(self.playouts)[0]

    @property
    def heard_ms(self) -> int:
        """Where in the reply's audio playback is (the model's truncation point)."""
        return round(self.reached * FRAME * 1000)

    def result(self) -> SpeechResult:
        reached, frames = progress(self.playouts)
        return SpeechResult(self.text.strip(), heard_of(self.text, self.playouts),
                            self.interrupted or reached < frames,
                            sum(p.seconds_sent for p in self.playouts))


class RealtimeConversation(Speaker):
    """One call's conversation with a :class:`RealtimeModel`."""

    def __init__(self, model: RealtimeModel, audio_in: AudioInput, audio_out: AudioOutput,
                 events: EventEmitter, *, sample_rate: int, instructions: str | None = None,
                 tools: Iterable[Callable[..., Any] | Tool] = (),
                 interruptions: bool = True) -> None:
        self.model = model
        self._input = audio_in
        self._output = audio_out
        super().__init__(events)
        #: The conversation so far as chat messages (the caller's words as the model
        #: transcribed them, the model's replies as far as the caller heard them).
        self.history: list[ChatMessage] = []
        if instructions:
            self.history.append(ChatMessage("system", instructions))
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            self.tool(tool)
        self._options = RealtimeOptions(instructions, (), sample_rate, interruptions)
        self._session: RealtimeSession | None = None
        self._tasks = TaskSet(self._failed)
        self._playing: list[_Reply] = []
        #: What :meth:`announce` asked the model to say, and when: the first reply to
        #: begin after that answers it.
        self._asked: list[tuple[float, str, asyncio.Future[SpeechResult]]] = []
        self._reply: _Reply | None = None
        self._heard_from = 0.0
        self._heard_to: float | None = None
        self._metrics: TurnMetrics | None = None
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def tool(self, function: Callable[..., Any] | Tool) -> Callable[..., Any] | Tool:
        """Let the model call ``function`` (before :meth:`start`; usable as a decorator)."""
        tool = function if isinstance(function, Tool) else Tool(function)
        self.tools[tool.name] = tool
        return function

    # Lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Connect to the model and start streaming the caller's audio to it."""
        options = RealtimeOptions(self._options.instructions, list(self.tools.values()),
                                  self._options.sample_rate, self._options.interruptions)
        self._session = await self.model.connect(options)
        self._tasks.spawn(self._send_audio(self._session))
        self._tasks.spawn(self._receive(self._session))
        self._set_state(VoiceState.LISTENING)

    async def wait(self) -> None:
        """Return when the conversation has been closed; raise :class:`ProviderError`
        if the model's connection was lost."""
        await asyncio.shield(self._ended)

    async def aclose(self) -> None:
        await self._tasks.close()
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.aclose()
        if not self._ended.done():
            self._ended.set_result(None)
        self._unheard()
        self._set_state(VoiceState.IDLE)

    # Verbs ---------------------------------------------------------------------

    async def respond(self, instructions: str | None = None) -> None:
        """Ask the model to speak now (``instructions`` for this reply only)."""
        await self._connected().respond(instructions)

    async def say(self, text: str) -> SpeechResult:
        """Have the model say ``text`` (a greeting, an announcement); returns when the
        caller has heard it to the end, or barge-in or the end of the conversation cut
        it, with how much was heard (as the pipeline's ``say`` does)."""
        return await (await self.announce(text))

    async def announce(self, text: str) -> asyncio.Future[SpeechResult]:
        """Ask the model to say ``text`` and return once asked: the future resolves as
        :meth:`say` returns."""
        heard: asyncio.Future[SpeechResult] = asyncio.get_running_loop().create_future()
        asked = (time.monotonic(), text, heard)
        self._asked.append(asked)
        try:
            await self.respond(f"Say exactly this to the caller, and nothing else: {text}")
        except BaseException:
            self._asked.remove(asked)
            raise
        return heard

    async def commit(self) -> None:
        """End the caller's turn and ask for a reply (for models whose own turn
        detection is off)."""
        session = self._connected()
        self._caller_stopped()
        await session.commit()
        await session.respond()

    def interrupt(self) -> Interrupted | None:
        """Cut the model's reply as barge-in does; None if it was not speaking."""
        return self._cut(cancel=True)

    def _connected(self) -> RealtimeSession:
        if self._session is None:
            raise ProviderError(type(self.model).__name__, "the conversation is not started",
                                retryable=False)
        return self._session

    # Audio up ------------------------------------------------------------------

    async def _send_audio(self, session: RealtimeSession) -> None:
        async for chunk in self._input.subscribe():
            await session.send_audio(chunk)

    # Events down ---------------------------------------------------------------

    async def _receive(self, session: RealtimeSession) -> None:
        try:
            async for event in session.events():
                self._handle(event)
        except ProviderError as exc:
            self._report(exc, STAGE)
            if not self._ended.done():
                self._ended.set_exception(exc)
        except Exception as exc:
            error = ProviderError(type(self.model).__name__, str(exc) or repr(exc))
            self._report(error, STAGE)
            if not self._ended.done():
                self._ended.set_exception(error)
        else:
            if not self._ended.done():
                self._ended.set_result(None)
        self._tasks.cancel()
        self._unheard()
        self._set_state(VoiceState.IDLE)

    def _unheard(self) -> None:
        """The conversation ended: what was asked and not said was not heard."""
        for _, text, heard in self._asked:
            if not heard.done():
                heard.set_result(SpeechResult(text, "", True, 0.0))
        self._asked.clear()

    def _handle(self, event: RealtimeEvent) -> None:
        if isinstance(event, ReplyAudio):
            self._audio(event)
        elif isinstance(event, ReplyText):
            if self._reply is not None and not self._reply.interrupted:
                self._reply.text += event.text
        elif isinstance(event, CallerSpeechStarted):
            self._caller_started()
        elif isinstance(event, CallerSpeechStopped):
            self._caller_stopped()
        elif isinstance(event, CallerTranscript):
            self._transcript(event.text)
        elif isinstance(event, ReplyStarted):
            self._reply = _Reply(event.response_id, self._metrics or TurnMetrics(),
                                 time.monotonic())
            self._metrics = None
        elif isinstance(event, ReplyToolCall):
            if self._reply is not None:
                self._reply.tool_calls.append(event.call)
        elif isinstance(event, ReplyDone):
            self._done(event)
        elif isinstance(event, ModelError):
            self._report(event.error, STAGE)

    def _caller_started(self) -> None:
        now = time.monotonic()
        self._heard_from, self._heard_to = now, None
        self.events.emit(SpeechStarted(now))
        if self._options.interruptions:
            # The model stops generating by itself on the caller's speech (its turn
            # detection interrupts its reply); what is queued here must go too.
            self._cut(cancel=not self.model.turn_detection)

    def _caller_stopped(self) -> None:
        now = time.monotonic()
        self._heard_to = now
        self._metrics = TurnMetrics()
        self.events.emit(SpeechEnded(now, now - self._heard_from))
        if not self._playing:
            self._set_state(VoiceState.PROCESSING)

    def _transcript(self, text: str) -> None:
        ended = self._heard_to or time.monotonic()
        metrics = self._metrics or (self._reply.metrics if self._reply is not None else None)
        if metrics is not None and self._heard_to is not None:
            metrics.end_of_speech_to_transcript = time.monotonic() - self._heard_to
        self.events.emit(UserTranscriptEvent(text, 1.0, self._heard_from, ended, final=True))
        if text.strip():
            self.history.append(ChatMessage("user", text))

    def _audio(self, event: ReplyAudio) -> None:
        reply = self._reply
        if reply is None or reply.interrupted:
            return  # the rest of a reply that was cut: never played
        reply.item_id = event.item_id
        if not reply.playouts:
            self._playing.append(reply)
            if self._heard_to is not None and reply.metrics.llm_first_token is None:
                reply.metrics.llm_first_token = time.monotonic() - self._heard_to
        playout = self._output.push(event.pcm, event.sample_rate)
        if not reply.playouts:
            playout.started.add_done_callback(lambda _: self._speaking(reply, playout))
        reply.playouts.append(playout)

    def _speaking(self, reply: _Reply, playout: Playout) -> None:
        if playout.started_at is None or reply.interrupted:
            return
        self._set_state(VoiceState.SPEAKING)
        if self._heard_to is not None and reply.metrics.voice_to_voice is None:
            reply.metrics.voice_to_voice = playout.started_at - self._heard_to
        self.events.emit(ResponseStarted(playout.started_at))

    def _done(self, event: ReplyDone) -> None:
        reply = self._reply
        if reply is None:
            return
        reply.generating = False
        reply.tool_calls = reply.tool_calls or event.tool_calls
        if reply.tool_calls:
            self.history.append(ChatMessage("assistant", reply.text, list(reply.tool_calls)))
            self._tasks.spawn(self._run_tools(reply))
        if reply.playouts:
            self._tasks.spawn(self._played(reply))
        elif not reply.tool_calls and not self._playing:
            self._set_state(VoiceState.LISTENING)

    async def _run_tools(self, reply: _Reply) -> None:
        session = self._connected()
        for call in reply.tool_calls:
            tool = self.tools.get(call.name)
            output = (await tool.call(call.arguments) if tool is not None
                      else f"error: there is no tool named {call.name}")
            self.history.append(ChatMessage("tool", output, tool_call_id=call.id))
            await session.tool_result(call.id, output)
        self._metrics = reply.metrics  # the spoken answer completes this turn
        await session.respond()

    async def _played(self, reply: _Reply) -> None:
        """Wait until the reply's audio has played (or was cleared), then report it."""
        await asyncio.wait([p.done for p in reply.playouts])
        with contextlib.suppress(ValueError):
            self._playing.remove(reply)
        result = reply.result()
        asked = next((a for a in self._asked if a[0] <= reply.began), None)
        if asked is not None:
            self._asked.remove(asked)
            if not asked[2].done():
                asked[2].set_result(result)
        if not reply.tool_calls:
            self.history.append(ChatMessage("assistant", result.heard_text))
        self.events.emit(AgentResponseEvent(result.text, list(reply.tool_calls),
                                            reply.metrics.llm_first_token,
                                            time.monotonic() - reply.began))
        self.events.emit(ResponseEnded(result))
        self.events.emit(reply.metrics)
        if not self._playing:
            self._set_state(VoiceState.LISTENING)

    def _cut(self, *, cancel: bool) -> Interrupted | None:
        playing = [r for r in self._playing if not r.interrupted]
        if not playing:
            return None
        at = time.monotonic()
        to_silence = self._output.clear()
        session = self._session
        for reply in playing:
            reply.interrupted = True
            reply.metrics.barge_in_to_silence = to_silence
            if session is not None and reply.item_id is not None:
                self._tasks.spawn(session.truncate(reply.item_id, reply.heard_ms))
            if session is not None and cancel and reply.generating:
                self._tasks.spawn(session.cancel())
        event = Interrupted(at, to_silence, playing[0].result())
        self.events.emit(event)
        return event

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, ProviderError):
            self._report(error, STAGE)
        else:
            self._report(ProviderError(type(self.model).__name__, str(error) or repr(error)),
                         STAGE)
