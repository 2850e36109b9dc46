"""A call's bridges: blind and warm transfers, supervision, two calls bridged, and the
way out of the app to the dialplan.

ARI facts: the app creates mixing bridges (``POST /bridges``) and moves channels into
them; ``ChannelLeftBridge`` says when a channel has left one (a prompt started before
then is queued to the dying bridge); ``POST /channels/{id}/continue`` sends a channel
back to the dialplan, after which its ``StasisEnd`` ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from voxtra.ari.errors import AriError
from voxtra.ari.models import ChannelLeftBridge
from voxtra.call.dialing import DialedLeg
from voxtra.call.errors import CallEndedError, DialplanError
from voxtra.call.state import CallState
from voxtra.call.supervision import MODES, Supervision
from voxtra.call.transfer import Consultation, Transfer, destroy_bridge, new_bridge_id

if TYPE_CHECKING:
    from voxtra.call.session import CallSession

log = logging.getLogger(__name__)

#: Seconds a call waits to have left a destroyed bridge before acting on it again.
BRIDGE_LEAVE_WAIT = 2.0


class Bridging:
    """The bridging verbs of one call (``call.transfer_to``, ``call.consult``, ...)."""

    def __init__(self, call: CallSession) -> None:
        self._call = call
        self._client = call._context.client
        self._transfers: list[Transfer] = []
        self._supervisions: list[Supervision] = []
        #: Bridges the call is waiting to have left, by id (ChannelLeftBridge resolves).
        self._left: dict[str, asyncio.Future[None]] = {}

    @property
    def handed_off(self) -> bool:
        return any(transfer.hand_off for transfer in self._transfers)

    async def transfer_to(self, target: str, timeout: int, caller_id: str | None,
                          headers: dict[str, str] | None, ringback: str | None,
                          hand_off: bool) -> Transfer:
        call = self._call
        call._check_active()
        await call._release_audio()
        ringing = await self._ringback(ringback, start=True)
        try:
            leg = await self._dial(target, timeout, caller_id, headers)
        finally:
            await self._ringback(ringback, start=False, playback=ringing)
        if call.ended:
            await leg.hangup()
            raise CallEndedError(f"call {call.id} ended while {target} was ringing")
        return await self._connect(leg, hand_off)

    async def consult(self, target: str, timeout: int, caller_id: str | None,
                      headers: dict[str, str] | None) -> Consultation:
        call = self._call
        call._check_active()
        await call._voice.release()
        await self._hold_for_consultation(True)
        try:
            leg = await self._dial(target, timeout, caller_id, headers)
        except BaseException:
            await self._hold_for_consultation(False)
            raise
        context = call._context
        return Consultation(self._client, context.app_name, leg, context.media,
                            context.own_legs, context.voice.providers.tts,
                            self._finish_consultation)

    async def supervise(self, supervisor: str | CallSession, mode: str,
                        timeout: int) -> Supervision:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        call = self._call
        call._check_active()
        leg = None
        if isinstance(supervisor, str):
            leg = await DialedLeg.dial(self._client, call._context.own_legs,
                                       call.app_name, supervisor, timeout=timeout)
            channel = leg.id
        else:
            channel = supervisor.id
        supervision = Supervision(self._client, call._context.own_legs, mode, channel, leg)
        self._supervisions.append(supervision)
        if leg is not None:
            leg.gone.add_done_callback(lambda _: call._tasks.spawn(supervision.end()))
        try:
            if mode == "barge":
                await supervision.barge(await self._bridge_to_join())
            else:
                await supervision.snoop(call.app_name, call.id)
        except BaseException:
            await supervision.end()
            raise
        return supervision

    async def _exists(self, context: str, extension: str, priority: int) -> None:
        """:class:`DialplanError` unless the dialplan has this place (``DIALPLAN_EXISTS``:
        Asterisk hangs up a call sent to a place that does not exist)."""
        call = self._call
        check = f"DIALPLAN_EXISTS({context},{extension},{priority})"
        with call._on_channel():
            exists = await self._client.channels.get_variable(call.id, check)
        if exists == "0":
            raise DialplanError(
                f"the dialplan has no {extension!r} at priority {priority} in context "
                f"{context!r}: Asterisk would hang the call up there")
        if not exists:
            log.warning("cannot check that %s,%s,%s exists (func_dialplan not loaded)",
                        context, extension, priority)

    async def continue_in_dialplan(self, context: str, extension: str, priority: int,
                                   variables: dict[str, str] | None) -> None:
        call = self._call
        call._check_active()
        await self._exists(context, extension, priority)
        with call._on_channel():
            if variables:
                await self._client.channels.set_variables(call.id, variables)
            call._lifecycle.leaving = True
            await self._client.channels.continue_in_dialplan(
                call.id, context=context, extension=extension, priority=priority)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call.wait_ended(), 5)
        with contextlib.suppress(AriError):  # the call lives on, but no longer here
            await self._client.applications.unsubscribe(call.app_name, f"channel:{call.id}")

    async def visit_dialplan(self, context: str, extension: str, priority: int,
                             variables: dict[str, str] | None, timeout: float) -> list[str]:
        call = self._call
        call._check_active()
        await self._exists(context, extension, priority)
        loop = asyncio.get_running_loop()
        away = call._lifecycle.away = loop.create_future()
        try:
            with call._on_channel():
                await self._client.channels.set_variables(
                    call.id, {**(variables or {}), "VOXTRA_APP": call.app_name})
                await self._client.channels.continue_in_dialplan(
                    call.id, context=context, extension=extension, priority=priority)
            return await asyncio.wait_for(asyncio.shield(away), timeout)
        finally:
            if call._lifecycle.away is away:
                call._lifecycle.away = None

    async def bridge_with(self, other: CallSession, bridge_type: str) -> str:
        bridge_id = f"voxtra-br-{uuid.uuid4().hex}"
        self._call._context.bridges.join(bridge_id, self._call.id, other.id)
        await self._client.bridges.create(bridge_type, bridge_id=bridge_id)
        await self._client.bridges.add_channel(bridge_id, [self._call.id, other.id])
        return bridge_id

    def deliver(self, event: ChannelLeftBridge) -> None:
        left = self._left.get(event.bridge.id)
        if left is not None and not left.done() and event.channel.id == self._call.id:
            left.set_result(None)

    async def close(self) -> None:
        """The call ended: supervisors and transfer targets go, and the bridges with them."""
        for supervision in self._supervisions:
            await supervision.end()
        for transfer in self._transfers:
            await transfer.leg.hangup()
            if transfer.bridge_id:
                await destroy_bridge(self._client, transfer.bridge_id)
        await self._call._context.bridges.leave(self._call.id)

    def _dial(self, target: str, timeout: int, caller_id: str | None,
              headers: dict[str, str] | None) -> Awaitable[DialedLeg]:
        call = self._call
        return DialedLeg.dial(self._client, call._context.own_legs, call.app_name, target,
                              timeout=timeout, caller_id=caller_id or call.caller_id or None,
                              headers=headers)

    async def _connect(self, leg: DialedLeg, hand_off: bool) -> Transfer:
        """Bridge the caller with an answered leg."""
        call = self._call
        transfer = Transfer(leg, new_bridge_id(), hand_off)
        self._transfers.append(transfer)
        await self._client.bridges.create("mixing", bridge_id=transfer.bridge_id,
                                          name=f"transfer-{call.id}")
        await self._client.bridges.add_channel(transfer.bridge_id, [call.id, leg.id])
        # The caller has left its media bridge for this one.
        await call._audio.release()
        leg.gone.add_done_callback(lambda _: call._tasks.spawn(self._target_left(transfer)))
        return transfer

    async def _bridge_to_join(self) -> str:
        """The bridge the call talks in: its transfer's, its media leg's, or a new one."""
        for transfer in reversed(self._transfers):
            if transfer.bridge_id and not transfer.leg.gone.done():
                return transfer.bridge_id
        call = self._call
        if call._audio.leg is not None:
            return call._audio.leg.bridge_id
        bridge_id = new_bridge_id()
        call._context.bridges.join(bridge_id, call.id)
        await self._client.bridges.create("mixing", bridge_id=bridge_id)
        await self._client.bridges.add_channel(bridge_id, call.id)
        return bridge_id

    async def _hold_for_consultation(self, hold: bool) -> None:
        """Music for the caller alone: on its media bridge if it has one (so the app's
        leg stays bridged for a three-way call), else on its channel."""
        call = self._call
        if call.ended:
            return
        channels, bridges = self._client.channels, self._client.bridges
        with contextlib.suppress(AriError):
            if call._audio.leg is not None:
                bridge = call._audio.leg.bridge_id
                await (bridges.start_moh(bridge) if hold else bridges.stop_moh(bridge))
            else:
                await (channels.start_moh(call.id) if hold else channels.stop_moh(call.id))
        call.state = CallState.ON_HOLD if hold else CallState.IN_PROGRESS

    async def _finish_consultation(self, result: str,
                                   consultation: Consultation) -> Transfer | None:
        await self._hold_for_consultation(False)
        if result == "cancelled":
            return None
        call = self._call
        call._check_active()
        if result == "completed":
            return await self._connect(consultation.leg, hand_off=True)
        media = await call._audio.open()  # a three-way call: the app's leg stays in it
        await self._client.bridges.add_channel(media.bridge_id, consultation.leg.id)
        transfer = Transfer(consultation.leg, "", hand_off=False)
        self._transfers.append(transfer)
        consultation.leg.gone.add_done_callback(
            lambda _: call._tasks.spawn(self._target_left(transfer)))
        return transfer

    async def _ringback(self, kind: str | None, *, start: bool,
                        playback: str | None = None) -> str | None:
        """Start (or stop) what the caller hears while a target rings: a ring indication
        before the answer, the ring tone after it, or music on hold."""
        call = self._call
        if kind is None or call.ended:
            return None
        channels = self._client.channels
        with contextlib.suppress(AriError):
            if kind == "moh":
                await (channels.start_moh(call.id) if start else channels.stop_moh(call.id))
            elif call.state is CallState.RINGING:
                await (channels.ring(call.id) if start else channels.ring_stop(call.id))
            elif start:
                playback_id = f"voxtra-pb-{uuid.uuid4().hex}"
                await channels.play(call.id, "tone:ring", playback_id=playback_id)
                return playback_id
            elif playback is not None:
                await self._client.playbacks.stop(playback)
        return None

    async def _target_left(self, transfer: Transfer) -> None:
        """The target hung up: the bridge goes; a handed-off call ends with it, any other
        is back in the app once it has left the bridge (ARI ``ChannelLeftBridge``): a
        prompt started before that is queued to the dying bridge and never plays."""
        call = self._call
        try:
            if transfer.bridge_id:
                left = self._left.setdefault(
                    transfer.bridge_id, asyncio.get_running_loop().create_future())
                await destroy_bridge(self._client, transfer.bridge_id)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(call._until_ended(left), BRIDGE_LEAVE_WAIT)
                self._left.pop(transfer.bridge_id, None)
            if transfer.hand_off and not call.ended:
                await call.hangup()
        finally:
            if not transfer.ended.done():
                transfer.ended.set_result(None)

