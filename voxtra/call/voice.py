"""A call's voice: the speech pipeline (``say``, ``listen``, ``call.agent``) or the
speech-to-speech conversation (``converse``), started on first use over the call's
media leg, with one event emitter for both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from voxtra.call.media import MEDIA_DRAIN
from voxtra.voice.agent import AgentClient
from voxtra.voice.conversation import RealtimeConversation
from voxtra.voice.emitter import EventEmitter, Listener
from voxtra.voice.errors import VoiceNotConfiguredError
from voxtra.voice.events import Interrupted, SpeechResult, UserTranscriptEvent, VoiceState
from voxtra.voice.llm import Tool
from voxtra.voice.pipeline import VoicePipeline

if TYPE_CHECKING:
    from voxtra.call.session import CallSession


class CallVoice:
    """The voice verbs of one call."""

    def __init__(self, call: CallSession) -> None:
        self._call = call
        self._config = call._context.voice
        self.events = EventEmitter()
        self.pipeline: VoicePipeline | None = None
        self.conversation: RealtimeConversation | None = None
        self._agent: AgentClient | None = None
        self._lock = asyncio.Lock()

    async def say(self, text: str | AsyncIterable[str], interruptible: bool) -> SpeechResult:
        pipeline = await self._pipeline()
        result = await pipeline.say(text, interruptible=interruptible)
        self._call._drain_after(MEDIA_DRAIN)
        return result

    async def listen(self, timeout: float | None) -> UserTranscriptEvent | None:
        if self._config.providers.stt is None:
            raise VoiceNotConfiguredError("AI pipeline not configured: listen() needs an STT")
        pipeline = await self._pipeline()
        heard = asyncio.ensure_future(pipeline.listen(timeout))
        if not await self._call._until_ended(heard):
            heard.cancel()
            return None
        return heard.result()

    @property
    def agent(self) -> AgentClient:
        if self._agent is None:
            llm = self._config.providers.llm
            if llm is None:
                raise VoiceNotConfiguredError("AI pipeline not configured: call.agent needs "
                                              "an LLM (VoxtraApp(llm=...))")
            settings = self._config.settings
            self._agent = AgentClient(llm, settings.instructions,
                                      first_token_timeout=settings.llm_timeout)
            if self.pipeline is not None:
                self.pipeline.agent = self._agent
        return self._agent

    async def converse(self, instructions: str | None,
                       tools: Iterable[Callable[..., Any] | Tool],
                       greeting: str | None) -> RealtimeConversation:
        model = self._config.providers.realtime
        if model is None:
            raise VoiceNotConfiguredError("no speech-to-speech model configured: "
                                          "VoxtraApp(realtime=...) or voice.realtime")
        if self.conversation is None:
            leg = await self._call._audio.open()
            settings = self._config.settings
            self.conversation = RealtimeConversation(
                model, leg.endpoint, leg.endpoint, self.events,
                sample_rate=leg.endpoint.format.sample_rate,
                instructions=instructions or settings.instructions, tools=tools,
                interruptions=settings.turn.interruptions)
            await self.conversation.start()
            if greeting:  # asked now; it plays while the handler goes on
                await self.conversation.announce(greeting)
        return self.conversation

    @property
    def state(self) -> VoiceState:
        if self.conversation is not None:
            return self.conversation.state
        return self.pipeline.state if self.pipeline is not None else VoiceState.IDLE

    def on(self, event: str, listener: Listener | None) -> Any:
        if listener is None:
            return lambda function: self.events.on(event, function)
        return self.events.on(event, listener)

    def interrupt(self) -> Interrupted | None:
        """Cut what the pipeline or the conversation is saying; None if neither spoke."""
        for speaker in (self.pipeline, self.conversation):
            cut = speaker.interrupt() if speaker is not None else None
            if cut is not None:
                return cut
        return None

    async def close(self) -> None:
        """Stop the speech pipeline and the speech-to-speech conversation (the call
        ended: they stay readable)."""
        if self.conversation is not None:
            await self.conversation.aclose()
        if self.pipeline is not None:
            await self.pipeline.aclose()

    async def release(self) -> None:
        """Stop them and let go (the call leaves for another bridge: a later verb
        starts afresh)."""
        await self.close()
        self.conversation = self.pipeline = None

    async def _pipeline(self) -> VoicePipeline:
        async with self._lock:
            if self.pipeline is None:
                leg = await self._call._audio.open()
                config = self._config
                self.pipeline = VoicePipeline(config.providers, leg.endpoint, leg.endpoint,
                                              config.settings, self.events, self._agent)
                self.pipeline.start()
            return self.pipeline
