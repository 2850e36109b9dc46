"""CallSession: one call and the verbs a handler drives it with.

The session owns what the call created and releases it exactly once, whoever
ends the call. Events reach it in order through :meth:`CallSession.deliver`,
called from the call's own queue (never from the websocket reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError, AriHttpError, NotFoundError
from voxtra.ari.model_base import Message
from voxtra.ari.models import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelLeftBridge,
    ChannelStateChange,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
    StasisStart,
)
from voxtra.call_media import CallMedia, MediaConfig
from voxtra.dialing import DialedLeg, Outcome
from voxtra.errors import CallEndedError, DialplanError, PlaybackError
from voxtra.legs import OwnLegs
from voxtra.media.audio import AudioChunk
from voxtra.media.g711 import Pcm
from voxtra.recording.recorder import CallParty, Recorder
from voxtra.recording.sinks import RecordingMetadata, RecordingSink
from voxtra.supervision import MODES, Supervision
from voxtra.transfer import Consultation, Transfer, destroy_bridge, new_bridge_id
from voxtra.voice.agent import AgentClient
from voxtra.voice.conversation import RealtimeConversation
from voxtra.voice.emitter import EventEmitter, Listener
from voxtra.voice.events import SpeechResult, UserTranscriptEvent, VoiceState
from voxtra.voice.llm import Tool
from voxtra.voice.pipeline import Providers, VoiceNotConfiguredError, VoicePipeline
from voxtra.voice.settings import VoiceSettings

log = logging.getLogger(__name__)

HangupCallback = (Callable[["CallSession"], Awaitable[None] | None]
                  | Callable[[], Awaitable[None] | None])

#: Seconds a hangup waits after the end of a playback. Measured against Asterisk 22:
#: ``PlaybackFinished`` arrives about 120 ms before the last frames of a prompt leave
#: as RTP, so hanging up at once cuts the prompt's end.
PLAYOUT_DRAIN = 0.25

#: The channel variable naming the call's latest ARI playback (see ``play_file``).
PLAYBACK_VARIABLE = "VOXTRA_PLAYBACK"

#: Seconds a hangup waits after the last frame of our own RTP audio was sent. Measured
#: against Asterisk 22: hanging up as the last frame left lost that frame at the
#: caller; 0.1 s later it arrived every time (6 of 6).
MEDIA_DRAIN = 0.1
#: Seconds a call waits to have left a destroyed bridge before acting on it again.
BRIDGE_LEAVE_WAIT = 2.0


class CallState(StrEnum):
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    FAILED = "failed"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class BridgeRegistry:
    """Bridges that calls of one app share; a bridge is destroyed when its last call ends."""

    def __init__(self, client: AriClient) -> None:
        self._client = client
        self._members: dict[str, set[str]] = {}

    def join(self, bridge_id: str, *channel_ids: str) -> None:
        self._members.setdefault(bridge_id, set()).update(channel_ids)

    def of(self, channel_id: str) -> list[str]:
        return [b for b, members in self._members.items() if channel_id in members]

    async def leave(self, channel_id: str) -> None:
        for bridge_id in self.of(channel_id):
            members = self._members[bridge_id]
            members.discard(channel_id)
            if not members:
                del self._members[bridge_id]
                try:
                    await self._client.bridges.destroy(bridge_id)
                except AriError as exc:
                    log.warning("could not destroy bridge %s: %s", bridge_id, exc)

    @property
    def active(self) -> set[str]:
        return set(self._members)


@dataclass(frozen=True)
class VoiceConfig:
    """What a call's voice verbs use: the app's shared providers and voice settings."""

    providers: Providers = field(default_factory=Providers)
    settings: VoiceSettings = field(default_factory=VoiceSettings)


class CallSession:
    """A call in the Stasis application."""

    def __init__(self, client: AriClient, channel: Channel, *, app_name: str,
                 called_number: str, direction: Direction = Direction.INBOUND,
                 metadata: dict[str, Any] | None = None,
                 bridges: BridgeRegistry | None = None,
                 recordings_dir: Path = Path("recordings"),
                 media_config: MediaConfig | None = None,
                 own_legs: OwnLegs | None = None, voice: VoiceConfig | None = None,
                 recording_sink: RecordingSink | None = None) -> None:
        self._client = client
        self._voice_config = voice or VoiceConfig()
        self._voice: VoicePipeline | None = None
        self._voice_lock = asyncio.Lock()
        self._agent: AgentClient | None = None
        self._conversation: RealtimeConversation | None = None
        self._events = EventEmitter()
        self._media_config = media_config or MediaConfig()
        self._own_legs = own_legs if own_legs is not None else OwnLegs()
        self._media: CallMedia | None = None
        self._media_lock = asyncio.Lock()
        self._bridges = bridges or BridgeRegistry(client)
        self._recorder = Recorder(client, channel.id, recordings_dir, recording_sink,
                                  app_name=app_name, own_legs=self._own_legs)
        self.channel = channel
        self.id = channel.id
        self.app_name = app_name
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
        self._hangup_callbacks: list[HangupCallback] = []
        #: Each playback's outcome: True when it played, False when Asterisk failed it.
        self._playbacks: dict[str, asyncio.Future[bool]] = {}
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._playout_until = 0.0
        self._hangup_requested = False
        #: Asterisk said the channel is being hung up (``ChannelHangupRequest``).
        self._hanging_up = False
        self._transfers: list[Transfer] = []
        #: Bridges the call is waiting to have left, by id (ChannelLeftBridge resolves).
        self._bridges_left: dict[str, asyncio.Future[None]] = {}
        self._supervisions: list[Supervision] = []
        self._sip_headers: dict[str, str | None] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        #: The call is leaving the app for the dialplan: its StasisEnd is the end.
        self.leaving = False

    def __repr__(self) -> str:
        return f"<CallSession {self.id} {self.caller_id!r}->{self.called_number!r} {self.state}>"

    @property
    def handed_off(self) -> bool:
        """A transfer handed the call off: the handler's end does not hang it up."""
        return any(transfer.hand_off for transfer in self._transfers)

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def duration(self) -> float:
        """Seconds since the answer (0 before it), up to the end of the call."""
        if self._answered_at is None:
            return 0.0
        return (self._ended_at or time.monotonic()) - self._answered_at

    # Verbs -------------------------------------------------------------------

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

    async def play_file(self, media: str) -> bool:
        """Play ``media`` and return once it has finished (True) or the call ended (False).

        ``media`` is an ARI media URI (``sound:hello-world``, ``recording:NAME``,
        ``tone:ring``, an http(s) URL); a bare name means ``sound:NAME``.
        Cancelling the call (e.g. ``asyncio.wait_for``) stops the playback; tones
        play until stopped. Raises :class:`PlaybackError` when Asterisk cannot play it
        (no such sound, an unreachable URL).
        """
        if media.startswith(("http://", "https://")):
            media = f"sound:{_padded_url(media)}"  # ARI plays URLs through its media cache
        elif ":" not in media:
            media = f"sound:{media}"
        playback_id = f"voxtra-pb-{uuid.uuid4().hex}"
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        # Registered before the request: PlaybackFinished can beat the HTTP reply.
        self._playbacks[playback_id] = done
        try:
            # Named on the channel, so a process that adopts the call after a crash can
            # stop it (a playback blocks every other request on the channel until done).
            await self._client.channels.set_variable(self.id, PLAYBACK_VARIABLE, playback_id)
            await self._client.channels.play(self.id, media, playback_id=playback_id)
            if not await self._until_ended(done) or done.cancelled():
                return False
            if not done.result():
                raise PlaybackError(f"Asterisk could not play {media} on call {self.id} "
                                    "(no such sound or recording, or the URL failed)")
            return True
        except asyncio.CancelledError:
            # Cancelling the wait (a timeout, barge-in) stops what the caller hears, if
            # Asterisk is there to hear it; the stop runs on if this task is cancelled
            # again meanwhile, and its failure is then only noted.
            stop = asyncio.ensure_future(self._client.playbacks.stop(playback_id))
            stop.add_done_callback(_note_failure)
            with contextlib.suppress(AriError):
                await asyncio.shield(stop)
            raise
        finally:
            self._playbacks.pop(playback_id, None)

    async def listen_dtmf(self, timeout: float | None = None) -> str | None:
        """The next DTMF digit the caller presses; None on timeout or when the call ends.

        Digits pressed earlier (while a prompt played, say) are returned first.
        """
        return await self._next_digit(timeout)

    async def gather(self, max_digits: int | None = None, *, timeout: float = 5.0,
                     finish_on_key: str | None = "#", prompt: str | None = None) -> str:
        """Collect digits, in the manner of TwiML ``<Gather>``.

        Plays ``prompt`` (stopped by the first digit), then collects until
        ``max_digits`` digits, the ``finish_on_key`` (not included), ``timeout``
        seconds without a digit after the prompt, or the end of the call.
        """
        prompt_task = asyncio.ensure_future(self.play_file(prompt)) if prompt else None
        digits = ""
        try:
            while max_digits is None or len(digits) < max_digits:
                digit = await self._next_digit(timeout, prompt_task)
                if digit is None:
                    break
                if prompt_task is not None and not prompt_task.done():
                    prompt_task.cancel()  # barge-in: the caller has started typing
                if finish_on_key and digit == finish_on_key:
                    break
                digits += digit
        finally:
            if prompt_task is not None and not prompt_task.done():
                prompt_task.cancel()
            if prompt_task is not None:
                with contextlib.suppress(asyncio.CancelledError, AriError):
                    await prompt_task
        return digits

    async def menu(self, prompt: str, options: Iterable[str], *, tries: int = 3,
                   timeout: float = 5.0, invalid: str | None = "sound:pm-invalid-option",
                   ) -> str | None:
        """Ask for one of ``options`` (single keys), in the manner of Adhearsion's ``menu``.

        Plays ``prompt``, takes one key; a key outside ``options`` plays ``invalid``
        and asks again, up to ``tries`` times. Returns the key, or None.
        """
        allowed = set(options)
        for _ in range(tries):
            choice = await self.gather(1, timeout=timeout, finish_on_key=None, prompt=prompt)
            if choice in allowed:
                return choice
            if self.ended:
                return None
            if choice and invalid:
                await self.play_file(invalid)
        return None

    async def send_dtmf(self, digits: str, *, between_ms: int = 100,
                        duration_ms: int = 100) -> None:
        """Send DTMF to the caller (RFC 4733 events, or SIP INFO, as negotiated).

        Asterisk sends the digits after answering the request; a hangup from now waits
        until they have gone out."""
        with self._on_channel():
            await self._client.channels.send_dtmf(self.id, digits, between=between_ms,
                                                  duration=duration_ms)
        self._drain_after(len(digits) * (between_ms + duration_ms) / 1000 + MEDIA_DRAIN)

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

    async def hold(self, moh_class: str | None = None) -> None:
        """Put the caller on hold: they hear music on hold until :meth:`unhold`."""
        with self._on_channel():
            await self._client.channels.start_moh(self.id, moh_class)
        self.state = CallState.ON_HOLD

    async def unhold(self) -> None:
        with self._on_channel():
            await self._client.channels.stop_moh(self.id)
        self.state = CallState.IN_PROGRESS

    async def transfer_to(self, target: str, *, timeout: int = 30,
                          caller_id: str | None = None, headers: dict[str, str] | None = None,
                          ringback: str | None = "ring", hand_off: bool = True) -> Transfer:
        """Blind transfer through ARI alone (nothing needed in the dialplan): dial
        ``target`` (a dial string: ``PJSIP/200``, ``PJSIP/trunk/sip:+15551234@host``)
        while the caller hears ``ringback`` ("ring", "moh" or None), and bridge the
        two once it answers. ``headers`` go on the INVITE to the target.

        Raises :class:`~voxtra.dialing.TransferFailed` (busy, no answer, failed) with the
        caller still in the app. With ``hand_off`` (the default) the handler may return
        and leave them talking: the call ends when either side hangs up. With
        ``hand_off=False`` the app keeps control: the handler's end hangs up both, and
        the target hanging up leaves the caller in the app (``transfer.ended``).
        Audio the app was sending or hearing on the call stops.
        """
        self._check_active()
        await self._release_audio()
        ringing = await self._ringback(ringback, start=True)
        try:
            leg = await DialedLeg.dial(self._client, self._own_legs, self.app_name, target,
                                       timeout=timeout,
                                       caller_id=caller_id or self.caller_id or None,
                                       headers=headers)
        finally:
            await self._ringback(ringback, start=False, playback=ringing)
        if self.ended:
            await leg.hangup()
            raise CallEndedError(f"call {self.id} ended while {target} was ringing")
        return await self._connect(leg, hand_off)

    async def _connect(self, leg: DialedLeg, hand_off: bool) -> Transfer:
        """Bridge the caller with an answered leg."""
        transfer = Transfer(leg, new_bridge_id(), hand_off)
        self._transfers.append(transfer)
        await self._client.bridges.create("mixing", bridge_id=transfer.bridge_id,
                                          name=f"transfer-{self.id}")
        await self._client.bridges.add_channel(transfer.bridge_id, [self.id, leg.id])
        if self._media is not None:  # the caller has left its media bridge for this one
            await self._media.close()
            self._media = None
        leg.gone.add_done_callback(lambda _: self._own(self._target_left(transfer)))
        return transfer

    async def consult(self, target: str, *, timeout: int = 30, caller_id: str | None = None,
                      headers: dict[str, str] | None = None) -> Consultation:
        """Warm (attended) transfer: the caller waits on hold (music) while ``target`` is
        dialled; returns once it answers, with the caller still on hold. The app then
        talks to the target alone (``consultation.say(...)``, ``send_audio``) and
        completes the transfer, cancels it or makes it a three-way call
        (:class:`~voxtra.transfer.Consultation`). Raises
        :class:`~voxtra.dialing.TransferFailed` with the caller back off hold.
        The call's speech pipeline stops; its media leg stays for a three-way call.
        """
        self._check_active()
        await self._release_voice()
        await self._hold_for_consultation(True)
        try:
            leg = await DialedLeg.dial(self._client, self._own_legs, self.app_name, target,
                                       timeout=timeout,
                                       caller_id=caller_id or self.caller_id or None,
                                       headers=headers)
        except BaseException:
            await self._hold_for_consultation(False)
            raise
        return Consultation(self._client, self.app_name, leg, self._media_config,
                            self._own_legs, self._voice_config.providers.tts,
                            self._finish_consultation)

    async def supervise(self, supervisor: str | CallSession, mode: str = "listen", *,
                        timeout: int = 30) -> Supervision:
        """Put a supervisor on this call: ``listen`` (hears both sides, heard by nobody),
        ``whisper`` (hears both sides, heard by this call's party alone: coaching) or
        ``barge`` (joins the call: everyone hears everyone). ``supervisor`` is a dial
        string the app calls (``PJSIP/supervisor``; :class:`TransferFailed` if it does
        not answer) or another call in the app. It ends with
        :meth:`Supervision.end <voxtra.supervision.Supervision.end>`, the supervisor's
        hangup, or the end of this call.
        """
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        self._check_active()
        leg = None
        if isinstance(supervisor, str):
            leg = await DialedLeg.dial(self._client, self._own_legs, self.app_name,
                                       supervisor, timeout=timeout)
            channel = leg.id
        else:
            channel = supervisor.id
        supervision = Supervision(self._client, self._own_legs, mode, channel, leg)
        self._supervisions.append(supervision)
        if leg is not None:
            leg.gone.add_done_callback(lambda _: self._own(supervision.end()))
        try:
            if mode == "barge":
                await supervision.barge(await self._bridge_to_join())
            else:
                await supervision.snoop(self.app_name, self.id)
        except BaseException:
            await supervision.end()
            raise
        return supervision

    async def _bridge_to_join(self) -> str:
        """The bridge the call talks in: its transfer's, its media leg's, or a new one."""
        for transfer in reversed(self._transfers):
            if transfer.bridge_id and not transfer.leg.gone.done():
                return transfer.bridge_id
        if self._media is not None:
            return self._media.bridge_id
        bridge_id = new_bridge_id()
        self._bridges.join(bridge_id, self.id)
        await self._client.bridges.create("mixing", bridge_id=bridge_id)
        await self._client.bridges.add_channel(bridge_id, self.id)
        return bridge_id

    async def _hold_for_consultation(self, hold: bool) -> None:
        """Music for the caller alone: on its media bridge if it has one (so the app's
        leg stays bridged for a three-way call), else on its channel."""
        if self.ended:
            return
        with contextlib.suppress(AriError):
            if self._media is not None:
                bridge = self._media.bridge_id
                await (self._client.bridges.start_moh(bridge) if hold
                       else self._client.bridges.stop_moh(bridge))
            else:
                await (self._client.channels.start_moh(self.id) if hold
                       else self._client.channels.stop_moh(self.id))
        self.state = CallState.ON_HOLD if hold else CallState.IN_PROGRESS

    async def _finish_consultation(self, result: str,
                                   consultation: Consultation) -> Transfer | None:
        await self._hold_for_consultation(False)
        if result == "cancelled":
            return None
        self._check_active()
        if result == "completed":
            return await self._connect(consultation.leg, hand_off=True)
        media = await self._media_leg()  # a three-way call: the app's leg stays in it
        await self._client.bridges.add_channel(media.bridge_id, consultation.leg.id)
        transfer = Transfer(consultation.leg, "", hand_off=False)
        self._transfers.append(transfer)
        consultation.leg.gone.add_done_callback(
            lambda _: self._own(self._target_left(transfer)))
        return transfer

    async def _ringback(self, kind: str | None, *, start: bool,
                        playback: str | None = None) -> str | None:
        """Start (or stop) what the caller hears while a target rings: a ring indication
        before the answer, the ring tone after it, or music on hold."""
        if kind is None or self.ended:
            return None
        with contextlib.suppress(AriError):
            if kind == "moh":
                await (self._client.channels.start_moh(self.id) if start
                       else self._client.channels.stop_moh(self.id))
            elif self.state is CallState.RINGING:
                await (self._client.channels.ring(self.id) if start
                       else self._client.channels.ring_stop(self.id))
            elif start:
                playback_id = f"voxtra-pb-{uuid.uuid4().hex}"
                await self._client.channels.play(self.id, "tone:ring",
                                                 playback_id=playback_id)
                return playback_id
            elif playback is not None:
                await self._client.playbacks.stop(playback)
        return None

    async def _target_left(self, transfer: Transfer) -> None:
        """The target hung up: the bridge goes; a handed-off call ends with it, any other
        is back in the app once it has left the bridge (ARI ``ChannelLeftBridge``): a
        prompt started before that is queued to the dying bridge and never plays."""
        try:
            if transfer.bridge_id:
                left = self._bridges_left.setdefault(
                    transfer.bridge_id, asyncio.get_running_loop().create_future())
                await destroy_bridge(self._client, transfer.bridge_id)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._until_ended(left), BRIDGE_LEAVE_WAIT)
                self._bridges_left.pop(transfer.bridge_id, None)
            if transfer.hand_off and not self.ended:
                await self.hangup()
        finally:
            if not transfer.ended.done():
                transfer.ended.set_result(None)

    def _own(self, work: Awaitable[Any]) -> None:
        """Run ``work`` as a task of this call (awaited when the call finishes)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        self._check_active()
        check = f"DIALPLAN_EXISTS({context},{extension},{priority})"
        with self._on_channel():
            exists = await self._client.channels.get_variable(self.id, check)
        if exists == "0":
            raise DialplanError(
                f"the dialplan has no {extension!r} at priority {priority} in context "
                f"{context!r}: Asterisk would hang the call up there")
        if not exists:
            log.warning("cannot check that %s,%s,%s exists (func_dialplan not loaded)",
                        context, extension, priority)
        with self._on_channel():
            if variables:
                await self._client.channels.set_variables(self.id, variables)
            self.leaving = True
            await self._client.channels.continue_in_dialplan(
                self.id, context=context, extension=extension, priority=priority)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), 5)
        with contextlib.suppress(AriError):  # the call lives on, but no longer here
            await self._client.applications.unsubscribe(self.app_name, f"channel:{self.id}")

    async def bridge_with(self, other: CallSession, bridge_type: str = "mixing") -> str:
        """Connect this call and ``other`` in a new bridge; returns the bridge id.

        The bridge is destroyed when the last of the calls in it ends.
        """
        bridge_id = f"voxtra-br-{uuid.uuid4().hex}"
        self._bridges.join(bridge_id, self.id, other.id)
        await self._client.bridges.create(bridge_type, bridge_id=bridge_id)
        await self._client.bridges.add_channel(bridge_id, [self.id, other.id])
        return bridge_id

    async def _next_digit(self, timeout: float | None,
                          prompt: asyncio.Future[bool] | None = None) -> str | None:
        """Wait for a digit; while ``prompt`` plays there is no timeout."""
        getter = asyncio.ensure_future(self._digits.get())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            while True:
                playing = prompt is not None and not prompt.done()
                waiters: list[asyncio.Future[Any]] = [getter, ended]
                if playing and prompt is not None:
                    waiters.append(prompt)
                done, _ = await asyncio.wait(waiters, timeout=None if playing else timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    return getter.result()
                if not (playing and prompt in done):
                    return None
        finally:
            ended.cancel()
            if not getter.done():
                getter.cancel()

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

    def adopt_recordings(self, noted: str) -> list[str]:
        """Take over the recordings a crashed process left running on this call (the app
        does this when it adopts the call); their names. They reach the app's
        ``recording_sink`` when stopped or when the call ends."""
        return self._recorder.resume(noted)

    @property
    def recordings(self) -> dict[str, RecordingMetadata]:
        """Metadata of the call's recordings that reached their sink, by name."""
        return self._recorder.stored

    @property
    def _party(self) -> CallParty:
        return CallParty(self.id, self.caller_id, self.called_number)

    # Media ---------------------------------------------------------------------

    async def audio_stream(self) -> AsyncIterator[AudioChunk]:
        """The caller's audio as it arrives: :class:`AudioChunk` s of 20 ms, in order,
        until the call ends. Answer the call first."""
        media = await self._media_leg()
        async for chunk in media.endpoint.subscribe():
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
        media = await self._media_leg()
        return media.endpoint.push(audio, sample_rate, protected=not interruptible).done

    async def play_audio(self, pcm: Pcm, sample_rate: int | None = None, *,
                         interruptible: bool = True) -> bool:
        """Play PCM to the caller and wait until it has been sent; True if played in full,
        False if barge-in (:meth:`stop_audio`) cut it or the call ended. Cancelling the
        wait stops an interruptible playback."""
        media = await self._media_leg()
        playout = media.endpoint.push(pcm, sample_rate, protected=not interruptible)
        try:
            played = (await self._until_ended(asyncio.shield(playout.done))
                      and not playout.done.cancelled())
            self._drain_after(MEDIA_DRAIN)
            return played
        except asyncio.CancelledError:
            # Our caller gave up waiting (a timeout, say): stop what the caller hears.
            if interruptible:
                media.endpoint.cancel(playout)
            raise

    def stop_audio(self) -> float:
        """Drop the interruptible audio queued for the caller (barge-in), and stop what
        ``say`` is generating; returns seconds until they hear silence."""
        for speaker in (self._voice, self._conversation):
            cut = speaker.interrupt() if speaker is not None else None
            if cut is not None:
                return cut.to_silence
        return self._media.endpoint.clear() if self._media is not None else 0.0

    @property
    def media(self) -> CallMedia | None:
        """The media leg, once audio has been used (its endpoint holds the RTP counters)."""
        return self._media

    async def _release_voice(self) -> None:
        """Stop the call's speech pipeline and speech-to-speech conversation."""
        if self._conversation is not None:
            await self._conversation.aclose()
            self._conversation = None
        if self._voice is not None:
            await self._voice.aclose()
            self._voice = None

    async def _release_audio(self) -> None:
        """Stop the call's voice and media leg (before the call joins another bridge)."""
        await self._release_voice()
        if self._media is not None:
            await self._media.close()
            self._media = None

    async def _media_leg(self) -> CallMedia:
        async with self._media_lock:
            if self._media is None:
                media = CallMedia(self._client, self.app_name, self.id, self._media_config,
                                  self._own_legs, self._media_died)
                await media.open()
                self._media = media
            return self._media

    def _media_died(self) -> None:
        """No RTP for the inactivity timeout: the call is dead, hang it up."""
        self._own(self.hangup())

    # Voice -------------------------------------------------------------------

    async def say(self, text: str | AsyncIterable[str], *,
                  interruptible: bool = True) -> SpeechResult:
        """Speak ``text`` to the caller (synthesised sentence by sentence, paced as RTP).

        ``text`` may be a stream of pieces, such as ``call.agent.reply(...)``: the
        first sentence plays while the rest is generated. Returns when the caller has
        heard it to the end, or when barge-in or the end of the call cut it; the
        result says which and how much was heard. Needs a TTS (``VoxtraApp(tts=...)``).
        """
        voice = await self._voice_pipeline()
        result = await voice.say(text, interruptible=interruptible)
        self._drain_after(MEDIA_DRAIN)
        return result

    async def listen(self, timeout: float | None = None) -> UserTranscriptEvent | None:
        """The caller's next turn, transcribed (final transcripts only); None after
        ``timeout`` seconds or when the call ends. Needs an STT (``VoxtraApp(stt=...)``).

        Raises :class:`voxtra.errors.ProviderError` when recognition of the turn failed.
        """
        if self._voice_config.providers.stt is None:
            raise VoiceNotConfiguredError("AI pipeline not configured: listen() needs an STT")
        voice = await self._voice_pipeline()
        heard = asyncio.ensure_future(voice.listen(timeout))
        if not await self._until_ended(heard):
            heard.cancel()
            return None
        return heard.result()

    @property
    def agent(self) -> AgentClient:
        """This call's conversation with the app's LLM (its own history)."""
        if self._agent is None:
            llm = self._voice_config.providers.llm
            if llm is None:
                raise VoiceNotConfiguredError("AI pipeline not configured: call.agent needs "
                                              "an LLM (VoxtraApp(llm=...))")
            settings = self._voice_config.settings
            self._agent = AgentClient(llm, settings.instructions,
                                      first_token_timeout=settings.llm_timeout)
            if self._voice is not None:
                self._voice.agent = self._agent
        return self._agent

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
        model = self._voice_config.providers.realtime
        if model is None:
            raise VoiceNotConfiguredError("no speech-to-speech model configured: "
                                          "VoxtraApp(realtime=...) or voice.realtime")
        if self._conversation is None:
            media = await self._media_leg()
            settings = self._voice_config.settings
            self._conversation = RealtimeConversation(
                model, media.endpoint, media.endpoint, self._events,
                sample_rate=media.endpoint.format.sample_rate,
                instructions=instructions or settings.instructions, tools=tools,
                interruptions=settings.turn.interruptions)
            await self._conversation.start()
            if greeting:
                await self._conversation.say(greeting)
        return self._conversation

    @property
    def conversation(self) -> RealtimeConversation | None:
        """The speech-to-speech conversation, once :meth:`converse` started it."""
        return self._conversation

    @property
    def speech_to_speech(self) -> bool:
        """A speech-to-speech model is configured for :meth:`converse`."""
        return self._voice_config.providers.realtime is not None

    @property
    def voice_settings(self) -> VoiceSettings:
        return self._voice_config.settings

    @property
    def voice_state(self) -> VoiceState:
        """IDLE, LISTENING, PROCESSING or SPEAKING."""
        if self._conversation is not None:
            return self._conversation.state
        return self._voice.state if self._voice is not None else VoiceState.IDLE

    @property
    def voice(self) -> VoicePipeline | None:
        """The voice pipeline, once ``say``/``listen`` started it."""
        return self._voice

    def on(self, event: str, listener: Listener | None = None) -> Any:
        """Call ``listener(event)`` on each voice event named ``event`` (speech_started,
        speech_ended, transcript, response_started, response_ended, interrupted,
        error, metrics, state); usable as a decorator: ``@call.on("transcript")``."""
        if listener is None:
            return lambda function: self._events.on(event, function)
        return self._events.on(event, listener)

    async def _voice_pipeline(self) -> VoicePipeline:
        async with self._voice_lock:
            if self._voice is None:
                media = await self._media_leg()
                config = self._voice_config
                self._voice = VoicePipeline(config.providers, media.endpoint, media.endpoint,
                                            config.settings, self._events, self._agent)
                self._voice.start()
            return self._voice

    def _drain_after(self, seconds: float) -> None:
        """A hangup from now waits ``seconds``, so the caller hears what was sent."""
        self._playout_until = max(self._playout_until, time.monotonic() + seconds)

    def on_hangup(self, callback: HangupCallback) -> HangupCallback:
        """Run ``callback(call)``, or ``callback()`` if it takes no argument, once when
        the call ends (usable as a decorator)."""
        self._hangup_callbacks.append(callback)
        return callback

    async def wait_ended(self) -> None:
        await self._ended.wait()

    # Events ------------------------------------------------------------------

    async def deliver(self, event: Message) -> None:
        """Apply one event to the call (in order, from the call's queue)."""
        if isinstance(event, StasisStart):
            self._entered(event.channel)
        elif isinstance(event, ChannelStateChange):
            self.channel = event.channel
            if event.channel.state == "Up" and self.state is CallState.RINGING:
                self._answered_at = self._answered_at or time.monotonic()
                self.state = CallState.IN_PROGRESS
        elif isinstance(event, ChannelDtmfReceived):
            if event.digit:
                self._digits.put_nowait(event.digit)
        elif isinstance(event, PlaybackFinished):
            future = self._playbacks.get(event.playback.id)
            if future is not None and not future.done():
                if self._hanging_up:  # the playback "failed" as the channel went
                    future.cancel()
                else:
                    self._drain_after(PLAYOUT_DRAIN)
                    future.set_result(event.playback.state != "failed")
        elif isinstance(event, RecordingFinished | RecordingFailed):
            self._recorder.on_event(event)
        elif isinstance(event, ChannelHangupRequest):
            self._hanging_up = True
            if event.cause:  # a far-end hangup's cause arrives here (16 for a BYE) ...
                self.hangup_cause = event.cause
        elif isinstance(event, ChannelDestroyed):
            if event.cause:  # ... while ChannelDestroyed may then say 0 (unknown)
                self.hangup_cause = event.cause
            await self.finish()
        elif isinstance(event, ChannelLeftBridge):
            left = self._bridges_left.get(event.bridge.id)
            if left is not None and not left.done() and event.channel.id == self.id:
                left.set_result(None)
        elif isinstance(event, StasisEnd):
            await self.finish()

    def _entered(self, channel: Channel) -> None:
        """The channel entered Stasis: for an originated call, it was answered."""
        self.channel = channel
        if self.direction is Direction.OUTBOUND and not self.outcome.done():
            self._answered_at = time.monotonic()
            self.state = CallState.IN_PROGRESS
            self.outcome.set_result(Outcome.ANSWERED)

    async def finish(self, state: CallState = CallState.COMPLETED) -> None:
        """End the session once: release what it holds, then run the hangup callbacks."""
        if self.ended:
            return
        self._ended_at = time.monotonic()
        if not self.outcome.done():  # an originated call that was never answered
            self.outcome.set_result(Outcome.from_cause(self.hangup_cause))
            state = CallState.FAILED
        if self.state is not CallState.FAILED:
            self.state = state
        self._ended.set()
        if self._conversation is not None:
            await self._conversation.aclose()
        if self._voice is not None:
            await self._voice.aclose()
        if self._media is not None:
            await self._media.close()
        for supervision in self._supervisions:
            await supervision.end()
        for transfer in self._transfers:
            await transfer.leg.hangup()
            if transfer.bridge_id:
                await destroy_bridge(self._client, transfer.bridge_id)
        await self._bridges.leave(self.id)
        await self._recorder.finish_all(self._party)
        for callback in self._hangup_callbacks:
            try:
                result = callback(self) if _takes_argument(callback) else callback()  # type: ignore[call-arg]
                if result is not None:
                    await result
            except Exception:
                log.exception("on_hangup callback failed for call %s", self.id)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _until_ended(self, waiter: asyncio.Future[Any]) -> bool:
        ended: asyncio.Future[Any] = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait([waiter, ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        return waiter.done()



#: Asterisk copies the media cache's local path for a URL into a buffer the length of
#: the URL (asterisk/asterisk#444, still so in 22): a path longer than the URL fails
#: the playback ("does not exist in any format"). A fragment, which is never sent to
#: the server, makes the URL long enough.
URL_MIN_LENGTH = 300


def _padded_url(url: str) -> str:
    if len(url) >= URL_MIN_LENGTH:
        return url
    separator = "" if "#" in url else "#"
    return url + separator + "-" * (URL_MIN_LENGTH - len(url) - len(separator))


def _takes_argument(callback: Callable[..., Any]) -> bool:
    """Whether ``callback`` can be called with one positional argument."""
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: assume it does
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in parameters)


def _note_failure(task: asyncio.Future[Any]) -> None:
    """Retrieve a background request's outcome: a failure is noted, never left for
    asyncio to report as never retrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("background request failed: %s", task.exception())
