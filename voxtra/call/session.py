"""CallSession: one call and the verbs a handler drives it with.

The session keeps the call's state (answer, hold, hangup, its end) and hands each
other verb on to the part of the call that does it: :mod:`~voxtra.call.prompts`
(prompts and DTMF), :mod:`~voxtra.call.bridging` (transfers, supervision, the
dialplan), :mod:`~voxtra.call.media` (the media leg), :mod:`~voxtra.call.voice`
(speech) and :mod:`voxtra.recording`. It owns what the call created and releases it
exactly once, whoever ends the call.

The framework (:mod:`voxtra.app.calls`) drives the call's events and end through its
:class:`~voxtra.call.lifecycle.Lifecycle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Callable,
    Iterable,
    Iterator,
)
from typing import Any

from voxtra.ari.errors import AriHttpError, NotFoundError
from voxtra.ari.models import Channel
from voxtra.call.bridging import Bridging
from voxtra.call.context import CallContext
from voxtra.call.errors import CallEndedError
from voxtra.call.lifecycle import HangupCallback, Lifecycle
from voxtra.call.media import CallAudio, CallMedia
from voxtra.call.prompts import Prompts
from voxtra.call.state import CallState, Direction, Outcome
from voxtra.call.supervision import Supervision
from voxtra.call.transfer import Consultation, Transfer
from voxtra.call.voice import CallVoice
from voxtra.media.audio import AudioChunk, Pcm
from voxtra.recording.recorder import CallParty, Recorder
from voxtra.recording.sinks import RecordingMetadata, RecordingSink
from voxtra.tasks import TaskSet
from voxtra.voice.agent import AgentClient
from voxtra.voice.conversation import RealtimeConversation
from voxtra.voice.emitter import Listener
from voxtra.voice.events import SpeechResult, UserTranscriptEvent, VoiceState
from voxtra.voice.llm import Tool
from voxtra.voice.pipeline import VoicePipeline
from voxtra.voice.settings import VoiceSettings


class CallSession:
    """A call in the Stasis application."""

    def __init__(self, context: CallContext, channel: Channel, *, called_number: str,
                 direction: Direction = Direction.INBOUND,
                 metadata: dict[str, Any] | None = None) -> None:
        self._context = context
        self._client = context.client
        self.channel = channel
        self.id = channel.id
        self.app_name = context.app_name
        self.called_number = called_number
        self.caller_id = (channel.caller.number or "") if channel.caller else ""
        self.direction = direction
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.state = CallState.IN_PROGRESS if channel.state == "Up" else CallState.RINGING
        self.hangup_cause: int | None = None
        #: For originated calls: settles once answered or failed.
        self.outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if direction is Direction.INBOUND:
            self.outcome.set_result(Outcome.ANSWERED)
        self._answered_at: float | None = time.monotonic() if channel.state == "Up" else None
        self._ended_at: float | None = None
        self._ended = asyncio.Event()
        self._playout_until = 0.0
        self._hangup_requested = False
        #: Asterisk said the channel is being hung up (``ChannelHangupRequest``).
        self._hanging_up = False
        self._sip_headers: dict[str, str | None] = {}
        self._tasks = TaskSet()
        self._prompts = Prompts(self)
        self._bridging = Bridging(self)
        self._audio = CallAudio(self)
        self._voice = CallVoice(self)
        self._lifecycle = Lifecycle(self)
        self._recorder = Recorder(self._client, channel.id, context.recordings_dir,
                                  context.recording_sink, app_name=context.app_name,
                                  own_legs=context.own_legs)

    def __repr__(self) -> str:
        return f"<CallSession {self.id} {self.caller_id!r}->{self.called_number!r} {self.state}>"

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def duration(self) -> float:
        """Seconds since the answer (0 before it), up to the end of the call."""
        if self._answered_at is None:
            return 0.0
        return (self._ended_at or time.monotonic()) - self._answered_at

    # The call itself -----------------------------------------------------------

    async def answer(self) -> None:
        with self._on_channel():
            await self._client.channels.answer(self.id)
        if self._answered_at is None:
            self._answered_at = time.monotonic()
        self.state = CallState.IN_PROGRESS

    async def hangup(self, reason: str = "normal") -> None:
        """Hang up once the last prompt has been heard to its end.

        Calling it again, or after the caller hung up, does nothing: a second
        request would overwrite the first one's cause (``unallocated`` becoming
        ``normal``, say) before Asterisk has acted on it.
        """
        if self.ended or self._hangup_requested:
            return
        self._hangup_requested = True
        drain = self._playout_until - time.monotonic()
        if drain > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), drain)
        if self.ended:
            return
        try:
            await self._client.channels.hangup(self.id, reason)
        except BaseException:
            self._hangup_requested = False  # it did not happen: a later call may retry
            raise

    async def hold(self, moh_class: str | None = None) -> None:
        """Put the caller on hold: they hear music on hold until :meth:`unhold`."""
        with self._on_channel():
            await self._client.channels.start_moh(self.id, moh_class)
        self.state = CallState.ON_HOLD

    async def unhold(self) -> None:
        with self._on_channel():
            await self._client.channels.stop_moh(self.id)
        self.state = CallState.IN_PROGRESS

    async def sip_header(self, name: str) -> str | None:
        """The value of SIP header ``name`` in the INVITE that started the call, or None
        (read with chan_pjsip's ``PJSIP_HEADER(read,name)``)."""
        if name not in self._sip_headers:
            with self._on_channel():
                try:
                    value = await self._client.channels.get_variable(
                        self.id, f"PJSIP_HEADER(read,{name})")
                except AriHttpError as exc:
                    if exc.status != 500:
                        raise
                    value = None  # the INVITE lacks it: chan_pjsip cannot read it (HTTP 500)
            self._sip_headers[name] = value or None
        return self._sip_headers[name]

    async def sip_headers(self, prefix: str = "") -> dict[str, str]:
        """Every header of the INVITE whose name starts with ``prefix`` (all by default),
        by name (chan_pjsip's ``PJSIP_HEADERS(prefix)`` lists the names)."""
        with self._on_channel():
            listed = await self._client.channels.get_variable(
                self.id, f"PJSIP_HEADERS({prefix})")
        headers = {}
        for name in dict.fromkeys(n.strip() for n in (listed or "").split(",") if n.strip()):
            value = await self.sip_header(name)
            if value is not None:
                headers[name] = value
        return headers

    def on_hangup(self, callback: HangupCallback) -> HangupCallback:
        """Run ``callback(call)``, or ``callback()`` if it takes no argument, once when
        the call ends (usable as a decorator)."""
        return self._lifecycle.on_hangup(callback)

    async def wait_ended(self) -> None:
        await self._ended.wait()

    # Prompts and keys (voxtra.call.prompts) --------------------------------------

    async def play_file(self, media: str) -> bool:
        """Play ``media`` and return once it has finished (True) or the call ended (False).

        ``media`` is an ARI media URI (``sound:hello-world``, ``recording:NAME``,
        ``tone:ring``, an http(s) URL); a bare name means ``sound:NAME``.
        Cancelling the call (e.g. ``asyncio.wait_for``) stops the playback; tones
        play until stopped. Raises :class:`PlaybackError` when Asterisk cannot play it
        (no such sound, an unreachable URL).
        """
        return await self._prompts.play_file(media)

    async def listen_dtmf(self, timeout: float | None = None) -> str | None:
        """The next DTMF digit the caller presses; None on timeout or when the call ends.

        Digits pressed earlier (while a prompt played, say) are returned first.
        """
        return await self._prompts.listen_dtmf(timeout)

    async def gather(self, max_digits: int | None = None, *, timeout: float = 5.0,
                     finish_on_key: str | None = "#", prompt: str | None = None) -> str:
        """Collect digits, in the manner of TwiML ``<Gather>``.

        Plays ``prompt`` (stopped by the first digit), then collects until
        ``max_digits`` digits, the ``finish_on_key`` (not included), ``timeout``
        seconds without a digit after the prompt, or the end of the call.
        """
        return await self._prompts.gather(max_digits, timeout, finish_on_key, prompt)

    async def menu(self, prompt: str, options: Iterable[str], *, tries: int = 3,
                   timeout: float = 5.0, invalid: str | None = "sound:pm-invalid-option",
                   ) -> str | None:
        """Ask for one of ``options`` (single keys), in the manner of Adhearsion's ``menu``.

        Plays ``prompt``, takes one key; a key outside ``options`` plays ``invalid``
        and asks again, up to ``tries`` times. Returns the key, or None.
        """
        return await self._prompts.menu(prompt, options, tries, timeout, invalid)

    async def send_dtmf(self, digits: str, *, between_ms: int = 100,
                        duration_ms: int = 100) -> None:
        """Send DTMF to the caller (RFC 4733 events, or SIP INFO, as negotiated).

        Asterisk sends the digits after answering the request; a hangup from now waits
        until they have gone out."""
        await self._prompts.send_dtmf(digits, between_ms, duration_ms)

    async def originate(self, endpoint: str, **options: Any) -> CallSession:
        """Place another call from this call's app: the same operation, with the same
        options, as :meth:`VoxtraApp.originate <voxtra.app.application.VoxtraApp.originate>`
        (a callback while this caller waits, a campaign's next dial)."""
        if self._context.originate is None:
            raise RuntimeError("this call has no app to place calls with")
        return await self._context.originate(endpoint, **options)

    # Bridges, transfers, the dialplan (voxtra.call.bridging) ----------------------

    @property
    def handed_off(self) -> bool:
        """A transfer handed the call off: the handler's end does not hang it up."""
        return self._bridging.handed_off

    async def transfer_to(self, target: str, *, timeout: int = 30,
                          caller_id: str | None = None, headers: dict[str, str] | None = None,
                          ringback: str | None = "ring", hand_off: bool = True) -> Transfer:
        """Blind transfer through ARI alone (nothing needed in the dialplan): dial
        ``target`` (a dial string: ``PJSIP/200``, ``PJSIP/trunk/sip:+15551234@host``)
        while the caller hears ``ringback`` ("ring", "moh" or None), and bridge the
        two once it answers. ``headers`` go on the INVITE to the target.

        Raises :class:`~voxtra.call.dialing.TransferFailed` (busy, no answer, failed) with the
        caller still in the app. With ``hand_off`` (the default) the handler may return
        and leave them talking: the call ends when either side hangs up. With
        ``hand_off=False`` the app keeps control: the handler's end hangs up both, and
        the target hanging up leaves the caller in the app (``transfer.ended``).
        Audio the app was sending or hearing on the call stops.
        """
        return await self._bridging.transfer_to(target, timeout, caller_id, headers, ringback,
                                                hand_off)

    async def consult(self, target: str, *, timeout: int = 30, caller_id: str | None = None,
                      headers: dict[str, str] | None = None) -> Consultation:
        """Warm (attended) transfer: the caller waits on hold (music) while ``target`` is
        dialled; returns once it answers, with the caller still on hold. The app then
        talks to the target alone (``consultation.say(...)``, ``send_audio``) and
        completes the transfer, cancels it or makes it a three-way call
        (:class:`~voxtra.call.transfer.Consultation`). Raises
        :class:`~voxtra.call.dialing.TransferFailed` with the caller back off hold.
        The call's speech pipeline stops; its media leg stays for a three-way call.
        """
        return await self._bridging.consult(target, timeout, caller_id, headers)

    async def supervise(self, supervisor: str | CallSession, mode: str = "listen", *,
                        timeout: int = 30) -> Supervision:
        """Put a supervisor on this call: ``listen`` (hears both sides, heard by nobody),
        ``whisper`` (hears both sides, heard by this call's party alone: coaching) or
        ``barge`` (joins the call: everyone hears everyone). ``supervisor`` is a dial
        string the app calls (``PJSIP/supervisor``; :class:`TransferFailed` if it does
        not answer) or another call in the app. It ends with
        :meth:`Supervision.end <voxtra.call.supervision.Supervision.end>`, the supervisor's
        hangup, or the end of this call.
        """
        return await self._bridging.supervise(supervisor, mode, timeout)

    async def transfer_to_queue(self, queue: str, *, context: str = "voxtra-transfer",
                                extension: str = "queue") -> None:
        """Send the call to an Asterisk queue (queues.conf) through the dialplan: the
        call continues at ``extension`` of ``context``, which runs
        ``Queue(${VOXTRA_QUEUE})`` (the bundled configuration has it; on your own
        Asterisk add ``exten => queue,1,Queue(${VOXTRA_QUEUE})`` to a context and
        name it). The session ends; :class:`DialplanError` if the place is missing."""
        await self.continue_in_dialplan(context, extension, variables={"VOXTRA_QUEUE": queue})

    async def continue_in_dialplan(self, context: str, extension: str = "s",
                                   priority: int = 1, *,
                                   variables: dict[str, str] | None = None) -> None:
        """Hand the call back to the dialplan at ``context``/``extension``/``priority``
        (the session ends; ``on_hangup`` runs as it leaves). The place is checked first
        with ``DIALPLAN_EXISTS`` (func_dialplan): Asterisk would hang up a call sent
        to a place that does not exist; :class:`DialplanError` instead."""
        await self._bridging.continue_in_dialplan(context, extension, priority, variables)

    async def visit_dialplan(self, context: str, extension: str = "s", priority: int = 1,
                             *, variables: dict[str, str] | None = None,
                             timeout: float = 30.0) -> list[str]:
        """Run the dialplan at ``context``/``extension``/``priority`` and come back: the
        dialplan returns the call with ``Stasis(${VOXTRA_APP},ARGS...)`` (``VOXTRA_APP``
        is set to this app), and its arguments are returned. For what only the dialplan
        has (``AMD()``). The call must be in no bridge (leaving Stasis takes it out).
        :class:`DialplanError` if the place does not exist, :class:`CallEndedError` if
        the call ends there, ``TimeoutError`` after ``timeout`` seconds."""
        return await self._bridging.visit_dialplan(context, extension, priority, variables,
                                                   timeout)

    async def bridge_with(self, other: CallSession, bridge_type: str = "mixing") -> str:
        """Connect this call and ``other`` in a new bridge; returns the bridge id.

        The bridge is destroyed when the last of the calls in it ends.
        """
        return await self._bridging.bridge_with(other, bridge_type)

    # Recording (voxtra.recording) -------------------------------------------------

    async def record_start(self, name: str | None = None, fmt: str = "wav",
                           sink: RecordingSink | None = None, *,
                           max_duration: int | None = None, beep: bool = False) -> str:
        """Start recording the caller; returns the recording's name.

        When the recording ends (:meth:`record_stop`, its ``max_duration``, or the
        end of the call) the file is fetched from Asterisk and handed to ``sink``
        (the app's ``recording_sink``, else a :class:`LocalFileSink` in ``recordings/``)
        exactly once. If the app's process dies meanwhile, the process that adopts the
        call delivers it, to its app's ``recording_sink``. Raises :class:`RecordingError`
        naming the fix when Asterisk cannot record (a stock install has no
        ``spool/recording`` directory).
        """
        return await self._recorder.start(name, fmt, sink, max_duration, beep)

    async def record_stop(self, name: str | None = None) -> str | None:
        """Stop a recording (the latest still running by default) and wait until its sink
        has the file; returns its name (its metadata is then in :attr:`recordings`), or
        None when nothing was recording."""
        return await self._recorder.stop(name, self._party)

    @property
    def recordings(self) -> dict[str, RecordingMetadata]:
        """Metadata of the call's recordings that reached their sink, by name."""
        return self._recorder.stored

    @property
    def _party(self) -> CallParty:
        return CallParty(self.id, self.caller_id, self.called_number)

    # Media (voxtra.call.media) --------------------------------------------------

    async def audio_stream(self) -> AsyncGenerator[AudioChunk, None]:
        """The caller's audio as it arrives: :class:`AudioChunk` s of 20 ms, in order,
        until the call ends. Answer the call first."""
        async for chunk in self._audio.stream():
            yield chunk

    async def send_audio(self, audio: Pcm | AudioChunk | bytes,
                         sample_rate: int | None = None, *,
                         interruptible: bool = True) -> asyncio.Future[None]:
        """Queue audio for the caller (paced at real time); returns a future that
        resolves when its last frame has been sent (playout acknowledgement), or is
        cancelled if :meth:`stop_audio` dropped it.

        PCM is resampled from ``sample_rate`` as needed; ``bytes`` must already be
        encoded as the leg sends (A-law on an alaw leg, μ-law otherwise: see
        :mod:`voxtra.media.endpoint`). Audio that is not ``interruptible`` survives
        :meth:`stop_audio`.
        """
        return await self._audio.send(audio, sample_rate, interruptible)

    async def play_audio(self, pcm: Pcm, sample_rate: int | None = None, *,
                         interruptible: bool = True) -> bool:
        """Play PCM to the caller and wait until it has been sent; True if played in full,
        False if barge-in (:meth:`stop_audio`) cut it or the call ended. Cancelling the
        wait stops an interruptible playback."""
        return await self._audio.play(pcm, sample_rate, interruptible)

    def stop_audio(self) -> float:
        """Drop the interruptible audio queued for the caller (barge-in), and stop what
        ``say`` is generating; returns seconds until they hear silence."""
        cut = self._voice.interrupt()
        return cut.to_silence if cut is not None else self._audio.clear()

    @property
    def media(self) -> CallMedia | None:
        """The media leg, once audio has been used (its endpoint holds the RTP counters)."""
        return self._audio.leg

    # Voice (voxtra.call.voice) ----------------------------------------------------

    async def say(self, text: str | AsyncIterable[str], *,
                  interruptible: bool = True) -> SpeechResult:
        """Speak ``text`` to the caller (synthesised sentence by sentence, paced as RTP).

        ``text`` may be a stream of pieces, such as ``call.agent.reply(...)``: the
        first sentence plays while the rest is generated. Returns when the caller has
        heard it to the end, or when barge-in or the end of the call cut it; the
        result says which and how much was heard. Needs a TTS (``VoxtraApp(tts=...)``).
        """
        return await self._voice.say(text, interruptible)

    async def listen(self, timeout: float | None = None) -> UserTranscriptEvent | None:
        """The caller's next turn, transcribed (final transcripts only); None after
        ``timeout`` seconds or when the call ends. Needs an STT (``VoxtraApp(stt=...)``).

        Raises :class:`voxtra.errors.ProviderError` when recognition of the turn failed.
        """
        return await self._voice.listen(timeout)

    @property
    def agent(self) -> AgentClient:
        """This call's conversation with the app's LLM (its own history)."""
        return self._voice.agent

    async def converse(self, *, instructions: str | None = None,
                       tools: Iterable[Callable[..., Any] | Tool] = (),
                       greeting: str | None = None) -> RealtimeConversation:
        """Hand the call to the app's speech-to-speech model (``VoxtraApp(realtime=...)``
        or ``voice.realtime`` in the settings): it listens, takes turns and answers
        by itself, with barge-in, until the call ends. ``instructions`` default to
        ``voice.instructions``; ``tools`` are functions the model may call. Returns
        once connected; ``await conversation.wait()`` to wait for the end. The same
        events as ``say``/``listen`` are reported through :meth:`on`.
        """
        return await self._voice.converse(instructions, tools, greeting)

    @property
    def conversation(self) -> RealtimeConversation | None:
        """The speech-to-speech conversation, once :meth:`converse` started it."""
        return self._voice.conversation

    @property
    def speech_to_speech(self) -> bool:
        """A speech-to-speech model is configured for :meth:`converse`."""
        return self._context.voice.providers.realtime is not None

    @property
    def voice_settings(self) -> VoiceSettings:
        return self._context.voice.settings

    @property
    def voice_state(self) -> VoiceState:
        """IDLE, LISTENING, PROCESSING or SPEAKING."""
        return self._voice.state

    @property
    def voice(self) -> VoicePipeline | None:
        """The voice pipeline, once ``say``/``listen`` started it."""
        return self._voice.pipeline

    def on(self, event: str, listener: Listener | None = None) -> Any:
        """Call ``listener(event)`` on each voice event named ``event`` (speech_started,
        speech_ended, transcript, response_started, response_ended, interrupted,
        error, metrics, state); usable as a decorator: ``@call.on("transcript")``."""
        return self._voice.on(event, listener)

    # For the parts of the call ----------------------------------------------------

    def _check_active(self) -> None:
        if self.ended:
            raise CallEndedError(f"call {self.id} has ended")

    @contextlib.contextmanager
    def _on_channel(self) -> Iterator[None]:
        """A request about the call's channel: :class:`CallEndedError` if the call has
        ended, before or during it (ARI answers 404 for a channel that is gone)."""
        self._check_active()
        try:
            yield
        except NotFoundError as exc:
            raise CallEndedError(f"call {self.id} has ended") from exc

    async def _until_ended(self, waiter: asyncio.Future[Any]) -> bool:
        """Wait for ``waiter`` or the end of the call; whether ``waiter`` is done."""
        ended: asyncio.Future[Any] = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait([waiter, ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        return waiter.done()

    def _drain_after(self, seconds: float) -> None:
        """A hangup from now waits ``seconds``, so the caller hears what was sent."""
        self._playout_until = max(self._playout_until, time.monotonic() + seconds)

    async def _release_audio(self) -> None:
        """Stop the call's voice and media leg (before the call joins another bridge)."""
        await self._voice.release()
        await self._audio.release()
