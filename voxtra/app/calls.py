"""The app's calls: dispatch of ARI events, admission, one ordered queue and consumer
per call, routing to a handler, and the end of each call.

Data flow: websocket reader → :meth:`Calls.dispatch` (sync, never awaits application
code) → the call's own ordered queue → its :class:`~voxtra.call.CallSession`. Each
handler runs in its own task, so a handler that awaits something slow, or fails, never
delays another call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from voxtra.app.routing import CallInfo, Handler, Router
from voxtra.ari.errors import AriError
from voxtra.ari.model_base import Message
from voxtra.ari.models import StasisEnd, StasisStart
from voxtra.call.context import CallContext
from voxtra.call.errors import CallEndedError
from voxtra.call.session import CallSession
from voxtra.call.state import CallState
from voxtra.errors import VoxtraError
from voxtra.logs import call_context
from voxtra.settings import VoxtraSettings
from voxtra.tasks import TaskSet

log = logging.getLogger(__name__)

#: Seconds the app's shutdown waits for the work that finishes its calls.
FINISH_GRACE = 10.0

#: How many ended channel ids are remembered so that late events cannot revive a call.
FINISHED_MEMORY = 4096


#: Channel ids of a campaign's dials: one that no call of this process holds is a dial a
#: dead process left, which the campaign settles (:mod:`voxtra.outbound`); it is never
#: routed or adopted as a call.
CAMPAIGN_CHANNEL_PREFIX = "voxtra-campaign-"


class CallWatcher(Protocol):
    """Told of each call as it starts and once its last work is done."""

    def call_started(self, call: CallSession) -> None: ...

    def call_ended(self, call: CallSession) -> None: ...


class Call:
    """A session with its handler, event queue and tasks."""

    def __init__(self, session: CallSession, handler: Handler) -> None:
        self.session = session
        self.handler = handler
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        #: Applies the call's events in order, and finishes the call (its last work:
        #: media teardown, recording delivery) before it ends.
        self.consumer: asyncio.Task[None] | None = None
        #: The context the call's tasks run in: their log lines carry its channel id.
        self.context = call_context(session.id)

    def start(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.create_task(coro, name=name, context=self.context)


class Calls:
    """The calls of one app, by channel id."""

    def __init__(self, context: CallContext, settings: VoxtraSettings, router: Router,
                 load: Callable[[], float], unowned: Callable[[Message], None],
                 watchers: Sequence[CallWatcher] = ()) -> None:
        """``load`` is the process's load now; ``unowned`` gets the events of no
        channel (a conference bridge's playbacks and recordings); ``watchers`` are told
        of each call's start and end (metrics, webhooks)."""
        self.context = context
        self.settings = settings
        self.router = router
        self.watchers = watchers
        self._load = load
        self._unowned = unowned
        self.active: dict[str, Call] = {}
        #: New calls refused because ``max_calls`` were up or ``max_load`` was reached.
        self.refused = 0
        self.accepting = False
        self.finished: OrderedDict[str, None] = OrderedDict()
        self.background = TaskSet()

    def dispatch(self, event: Message) -> None:
        """Route one event to its call's queue; runs in the websocket reader."""
        channel_id = event.channel_id
        if channel_id is None:
            self._unowned(event)
            return
        if channel_id in self.context.own_legs:
            self.context.own_legs.observe(event)
            return
        if channel_id in self.finished:
            return
        call = self.active.get(channel_id)
        if call is not None:
            call.queue.put_nowait(event)
        elif isinstance(event, StasisStart) and not channel_id.startswith(CAMPAIGN_CHANNEL_PREFIX):
            if self._full():
                self.reject(channel_id, "congestion")
            else:
                self.new(event)

    def new(self, event: StasisStart, recordings: str | None = None) -> None:
        """Track the call at once (its events queue up in order), route it in a task."""
        channel = event.channel
        if not self.accepting:
            self.reject(channel.id, "congestion")
            return
        dialplan_exten = channel.dialplan.exten if channel.dialplan else None
        called = event.args[0] if event.args else dialplan_exten or ""
        session = CallSession(self.context, channel, called_number=called)
        if recordings:
            names = session._lifecycle.adopt_recordings(recordings)
            log.info("call %s: recordings %s taken over", channel.id, names)
        call = self.track(session, self._unrouted)
        call.tasks.append(call.start(self._route(call), f"call-{channel.id}"))

    def track(self, session: CallSession, handler: Handler) -> Call:
        call = Call(session, handler)
        self.active[session.id] = call
        for watcher in self.watchers:
            watcher.call_started(session)
        call.consumer = call.start(self._consume(call), f"events-{session.id}")
        return call

    def end(self, channel_id: str) -> None:
        """The call's channel is gone (ARI said so after a reconnect): end it."""
        call = self.active.get(channel_id)
        if call is not None:
            call.queue.put_nowait(StasisEnd(type="StasisEnd", application=self.context.app_name,
                                            channel=call.session.channel))

    def reject(self, channel_id: str, reason: str) -> None:
        self._remember_finished(channel_id)
        self.spawn(self.context.client.channels.hangup(channel_id, reason),
                   f"reject-{channel_id}")

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``coro`` in the background, holding a reference until it is done."""
        self.background.spawn(coro, name)

    async def close(self, grace: float, connected: bool) -> None:
        """Stop taking calls, give handlers ``grace`` seconds, hang up what is left and
        wait (within :data:`FINISH_GRACE`, while ARI is ``connected``) for the work
        that finishes each call."""
        self.accepting = False
        handlers = [t for call in self.active.values() for t in call.tasks]
        # With Asterisk gone, no handler can finish its work: no grace to wait out.
        if handlers and connected:
            await asyncio.wait(handlers, timeout=grace)
        calls = list(self.active.values())
        for call in calls:
            await _hangup_quietly(call.session, "normal")
        for task in (t for call in calls for t in call.tasks):
            task.cancel()
        consumers = [c.consumer for c in calls if c.consumer is not None]
        if consumers and connected:
            await asyncio.wait(consumers, timeout=FINISH_GRACE)
        for call in calls:
            if not call.session.ended:  # its end never arrived: finish it here
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(call.session._lifecycle.finish(), FINISH_GRACE)
        remaining = [t for call in calls for t in (*call.tasks, call.consumer)
                     if t is not None and not t.done()]
        for task in remaining:
            task.cancel()
        await asyncio.gather(*remaining, return_exceptions=True)
        for call in calls:
            self.active.pop(call.session.id, None)

    async def hand_over(self) -> None:
        """Stop taking calls and leave the ones up to Asterisk as they are (no hangup):
        the next process on this Stasis application adopts them."""
        self.accepting = False
        calls = list(self.active.values())
        tasks = [t for call in calls for t in (*call.tasks, call.consumer) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.active.clear()

    def _full(self) -> bool:
        """Whether a new call would pass ``max_calls`` or ``max_load``; if so it is
        refused with congestion (Q.850 cause 34, which Asterisk answers as SIP 503),
        which a SIP load balancer retries on another server."""
        settings, calls, load = self.settings, len(self.active), self._load()
        if settings.max_calls is not None and calls >= settings.max_calls:
            why = f"{calls} calls up, max_calls is {settings.max_calls}"
        elif settings.max_load is not None and load >= settings.max_load:
            why = f"load {load:.2f} with {calls} calls up, max_load is {settings.max_load}"
        else:
            return False
        self.refused += 1
        if self.refused % 100 == 1:
            log.warning("new call refused: %s (%d refused so far); run another process",
                        why, self.refused)
        return True

    async def _route(self, call: Call) -> None:
        session, client = call.session, self.context.client
        # Stasis stops telling the app about a channel at StasisEnd; a subscription of
        # its own keeps ChannelDestroyed, which carries the hangup cause.
        with contextlib.suppress(AriError):
            await client.applications.subscribe(self.context.app_name, f"channel:{session.id}")
        headers = {}
        for name in self.router.header_names:
            try:
                value = await session.sip_header(name)
            except VoxtraError as exc:  # the call ended while being routed
                log.debug("call %s: SIP header %s not read (%s)", session.id, name, exc)
                value = None
            if value:
                headers[name] = value
        info = CallInfo(session.called_number, session.caller_id, headers)
        route = self.router.match(info)
        if route is not None:
            session.metadata.update(route.metadata)
            call.handler = route.handler
        log.info("call %s from %r to %r: %s (Stasis application %s)", session.id,
                 session.caller_id, session.called_number, call.handler.__name__,
                 self.context.app_name)
        await self._run_handler(call)

    async def _unrouted(self, call: CallSession) -> None:
        """What happens to a call no route matches (settings ``unmatched_*``)."""
        settings = self.settings
        log.warning("no route for call %s to %r", call.id, call.called_number)
        if settings.unmatched_action == "announce":
            await call.answer()
            await call.play_file(settings.unmatched_prompt)
        await call.hangup(settings.unmatched_cause)

    async def _consume(self, call: Call) -> None:
        session = call.session
        while not session.ended:
            event = await call.queue.get()
            if isinstance(event, StasisEnd) and not session._lifecycle.leaving \
                    and session._lifecycle.away is None:
                await self._until_destroyed(call)
            await session._lifecycle.deliver(event)
            if isinstance(event, StasisStart) and not call.tasks and not session.ended:
                # an originated call was answered
                call.tasks.append(call.start(self._run_handler(call), f"call-{session.id}"))
        await asyncio.gather(*call.tasks, return_exceptions=True)
        self.active.pop(session.id, None)
        self._remember_finished(session.id)
        log.info("call %s ended: %s after %.1f s, cause %s", session.id, session.state,
                 session.duration, session.hangup_cause)
        for watcher in self.watchers:
            watcher.call_ended(session)

    async def _until_destroyed(self, call: Call, wait: float = 0.5) -> None:
        """After StasisEnd, deliver what follows until ChannelDestroyed (with the hangup
        cause) or ``wait`` seconds (a channel that went back to the dialplan lives on)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not call.session.ended:
            try:
                event = await asyncio.wait_for(call.queue.get(), deadline - loop.time())
            except TimeoutError:
                return
            await call.session._lifecycle.deliver(event)

    async def _run_handler(self, call: Call) -> None:
        session = call.session
        try:
            await call.handler(session)
        except CallEndedError:  # the caller hung up while the handler was at work
            log.info("call %s ended while handler %s ran", session.id, call.handler.__name__)
        except Exception:
            log.exception("handler %s failed on call %s", call.handler.__name__, session.id)
            session._lifecycle.fail()
        if not session.handed_off or session.state is CallState.FAILED:
            await _hangup_quietly(session, "normal")

    def _remember_finished(self, channel_id: str) -> None:
        self.finished[channel_id] = None
        while len(self.finished) > FINISHED_MEMORY:
            self.finished.popitem(last=False)


async def _hangup_quietly(session: CallSession, reason: str) -> None:
    try:
        await session.hangup(reason)
    except Exception as exc:
        log.warning("hangup of call %s failed: %s", session.id, exc)
