"""Dialling a leg from the app, with nothing needed in the dialplan.

A transfer target (or an agent, a supervisor) is dialled with ``POST /channels``
(originate) into the app's own Stasis application, as one of the app's own legs so
its ``StasisStart`` is never routed as a new call. ARI facts relied on: an
originated channel's events reach the originating application from the start, not
only once it enters Stasis; it enters Stasis when answered; an unanswered one ends
with ``ChannelDestroyed`` whose cause (or the preceding ``ChannelHangupRequest``'s)
is the Q.850 cause: 17 user busy, 18 or 19 no answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError
from voxtra.ari.legs import OwnLegs
from voxtra.ari.model_base import Message
from voxtra.ari.models import ChannelDestroyed, ChannelHangupRequest, StasisStart
from voxtra.call.errors import TransferFailed
from voxtra.call.state import Outcome


class DialedLeg:
    """A channel the app dialled: :meth:`dial` returns it answered; :attr:`gone`
    resolves when it ends (its cause in :attr:`cause`)."""

    def __init__(self, client: AriClient, own_legs: OwnLegs, target: str) -> None:
        self.id = f"voxtra-leg-{uuid.uuid4().hex}"
        self.target = target
        self.cause: int | None = None
        loop = asyncio.get_running_loop()
        self.answered: asyncio.Future[None] = loop.create_future()
        self.gone: asyncio.Future[None] = loop.create_future()
        self._client = client
        self._own_legs = own_legs

    @classmethod
    async def dial(cls, client: AriClient, own_legs: OwnLegs, app_name: str, target: str, *,
                   timeout: int = 30, caller_id: str | None = None,
                   headers: dict[str, str] | None = None) -> DialedLeg:
        """Dial ``target`` (a dial string: ``PJSIP/200``, ``PJSIP/trunk/sip:+15551234@host``)
        and return once it answers; raise :class:`TransferFailed` if it does not.
        ``headers`` are added to the INVITE (``PJSIP_HEADER(add,...)``)."""
        leg = cls(client, own_legs, target)
        own_legs.add(leg.id, leg._observe)
        variables = {f"PJSIP_HEADER(add,{name})": value
                     for name, value in (headers or {}).items()}
        try:
            await client.channels.originate(target, channel_id=leg.id, app=app_name,
                                            app_args="voxtra-leg", caller_id=caller_id,
                                            timeout=timeout, variables=variables or None)
            # Asterisk gives up after ``timeout``; the margin covers a lost event.
            await asyncio.wait_for(asyncio.shield(leg.answered), timeout + 10)
        except AriError as exc:
            own_legs.discard(leg.id)
            raise TransferFailed(target, Outcome.FAILED, detail=str(exc)) from None
        except TimeoutError:
            await leg.hangup()
            raise TransferFailed(target, Outcome.NO_ANSWER) from None
        except BaseException:
            await leg.hangup()
            raise
        return leg

    def _observe(self, event: Message) -> None:
        if isinstance(event, StasisStart):
            if not self.answered.done():
                self.answered.set_result(None)
        elif isinstance(event, ChannelHangupRequest) and event.cause:
            self.cause = event.cause
        elif isinstance(event, ChannelDestroyed):
            self.cause = event.cause or self.cause
            self._own_legs.discard(self.id)
            if not self.answered.done():
                self.answered.set_exception(TransferFailed(
                    self.target, Outcome.from_cause(self.cause), self.cause))
            if not self.gone.done():
                self.gone.set_result(None)

    async def hangup(self) -> None:
        """Hang the leg up (nothing if it has gone already); :attr:`gone` resolves."""
        if not self.gone.done():
            with contextlib.suppress(AriError):
                await self._client.channels.hangup(self.id)
        self._own_legs.discard(self.id)
        if not self.gone.done():
            self.gone.set_result(None)
