"""Ready-made call handlers, usable as they are or as examples.

    app.route(did="600")(echo)
    app.route(did="601")(announce("sound:hello-world"))
    app.route(did="602")(say("Thank you for calling. Goodbye."))
    app.route(did="603")(transcribe(print))
    app.route(did="604")(agent(greeting="Hello, how can I help?"))
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from voxtra.call.session import CallSession
from voxtra.voice.errors import ProviderError
from voxtra.voice.events import UserTranscriptEvent

if TYPE_CHECKING:
    from voxtra.app.routing import Handler

log = logging.getLogger(__name__)


async def echo(call: CallSession) -> None:
    """Answer and send the caller's audio straight back until they hang up."""
    await call.answer()
    async for chunk in call.audio_stream():
        await call.send_audio(chunk)


def announce(*media: str) -> Handler:
    """A handler that answers, plays ``media`` in turn to the end, and hangs up."""

    async def announcement(call: CallSession) -> None:
        await call.answer()
        for item in media:
            if not await call.play_file(item):
                return
        await call.hangup()

    return announcement


def say(text: str) -> Handler:
    """A handler that answers, speaks ``text`` (TTS) and hangs up."""

    async def speak(call: CallSession) -> None:
        await call.answer()
        await call.say(text, interruptible=False)
        await call.hangup()

    return speak


TranscriptSink = Callable[[UserTranscriptEvent], Awaitable[None] | None]


def transcribe(sink: TranscriptSink) -> Handler:
    """A handler that answers and hands every final transcript of the caller to
    ``sink`` (a function, sync or async) until the call ends."""

    async def transcription(call: CallSession) -> None:
        await call.answer()
        while not call.ended:
            try:
                heard = await call.listen()
            except ProviderError as exc:
                log.warning("call %s: a turn was not transcribed: %s", call.id, exc)
                continue
            if heard is None:
                return
            result = sink(heard)
            if inspect.isawaitable(result):
                await result

    return transcription


def agent(greeting: str | None = None, *, setup: Handler | None = None,
          tools: Iterable[Callable[..., Any]] = (), max_silences: int = 2) -> Handler:
    """A whole AI conversation: answer, greet, then listen and reply until the caller
    hangs up, with barge-in. ``tools`` are functions the model may call;
    ``setup(call)`` runs first.

    With a speech-to-speech model configured (``voice.realtime``) the model holds
    the conversation (:meth:`CallSession.converse`); if it fails, Asterisk's
    ``voice.fallback_prompt`` plays and the call ends. Otherwise replies stream
    from ``call.agent`` into speech sentence by sentence. A silence of
    ``voice.silence_timeout`` gets "Are you still there?"; after ``max_silences``
    of them the agent hangs up. When a provider fails it says
    ``voice.fallback_message`` (or plays ``voice.fallback_prompt`` if speech
    itself failed) and hangs up cleanly.
    """

    async def conversation(call: CallSession) -> None:
        settings = call.voice_settings
        if setup is not None:
            await setup(call)
        await call.answer()
        if call.speech_to_speech:
            await _converse(call, greeting or settings.greeting, tools)
            return
        for tool in tools:
            call.agent.tool(tool)
        try:
            opening = greeting or settings.greeting
            if opening:
                await call.say(opening)
            silences = 0
            while not call.ended:
                heard = await call.listen(timeout=settings.silence_timeout)
                if heard is None:
                    silences += 1
                    if call.ended or silences > max_silences:
                        break
                    await call.say("Are you still there?")
                    continue
                silences = 0
                await call.say(call.agent.reply(heard.text))
        except ProviderError as exc:
            log.warning("call %s: %s; ending the call", call.id, exc)
            await _apologise(call, settings.fallback_message, settings.fallback_prompt)
        await call.hangup()

    return conversation


async def _converse(call: CallSession, greeting: str | None,
                    tools: Iterable[Callable[..., Any]]) -> None:
    """The conversation on the app's speech-to-speech model; if the model fails,
    Asterisk's own prompt says so, and the call ends."""
    try:
        conversation = await call.converse(greeting=greeting, tools=tools)
        await conversation.wait()
    except ProviderError as exc:
        log.warning("call %s: %s; ending the call", call.id, exc)
        if not call.ended:
            await call.play_file(call.voice_settings.fallback_prompt)
    await call.hangup()


async def _apologise(call: CallSession, message: str, prompt: str) -> None:
    """Say ``message``; if speech fails too, play ``prompt`` with Asterisk's sounds."""
    try:
        await call.say(message, interruptible=False)
    except ProviderError:
        await call.play_file(prompt)
