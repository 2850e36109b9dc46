"""VoxtraApp: connects to ARI, routes each call to its handler, runs calls concurrently.

Data flow: websocket reader → :meth:`VoxtraApp._dispatch` (sync, never awaits
application code) → the call's own ordered queue → its :class:`CallSession`.
Each handler runs in its own task, so a handler that awaits something slow, or fails,
never delays another call. One that *blocks* (``time.sleep``, a synchronous client,
heavy CPU work) stops the event loop every call shares, so every call's events wait
(audio already queued keeps playing: media runs on its own thread,
:mod:`voxtra.media.thread`). The watchdog (:mod:`voxtra.watchdog`) logs where; run such
code with ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Literal

from voxtra import runner
from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriConnectionError, AriError, AriHttpError, NotFoundError
from voxtra.ari.events import EventStream, Reconciliation
from voxtra.ari.model_base import Message
from voxtra.ari.models import Channel, StasisEnd, StasisStart
from voxtra.call_media import MediaConfig
from voxtra.conference import Conference
from voxtra.errors import CallEndedError, VoxtraError
from voxtra.handlers import agent as conversation
from voxtra.legs import OwnLegs
from voxtra.load import LoopLoad, OverloadAlarm
from voxtra.media.audio import AudioFormat
from voxtra.media.thread import MediaThread
from voxtra.recording.recorder import RECORDING_LEG_PREFIX, RECORDINGS_VARIABLE
from voxtra.recording.sinks import RecordingSink
from voxtra.retry import Backoff
from voxtra.routing import CallInfo, Handler, Route, Router
from voxtra.session import (
    PLAYBACK_VARIABLE,
    BridgeRegistry,
    CallSession,
    CallState,
    Direction,
    VoiceConfig,
)
from voxtra.settings import ConfigError, RouteSettings, VoxtraSettings, load_settings
from voxtra.voice.endpointing import EndOfTurnModel
from voxtra.voice.llm import LLM
from voxtra.voice.pipeline import Providers
from voxtra.voice.providers import build, default_turn_model, default_vad
from voxtra.voice.realtime import RealtimeModel
from voxtra.voice.settings import ProviderSettings
from voxtra.voice.stt import STT, BatchSTT
from voxtra.voice.tts import TTS
from voxtra.voice.vad import VAD
from voxtra.watchdog import LoopWatchdog

log = logging.getLogger(__name__)


def _route_from_settings(config: RouteSettings) -> Route:
    module_name, _, attribute = config.handler.partition(":")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"route handler {config.handler!r} cannot be imported "
                          f"(expected 'package.module:function'): {exc}") from None
    return Route(handler, **config.model_dump(exclude={"handler"}))


#: Channel technologies of media legs (ExternalMedia, AudioSocket, snoop): never callers.
MEDIA_LEG_TECHNOLOGIES = ("UnicastRTP/", "AudioSocket/", "WebSocket/", "Snoop/")

#: Seconds the app's shutdown waits for the work that finishes its calls.
FINISH_GRACE = 10.0

#: How many ended channel ids are remembered so that late events cannot revive a call.
FINISHED_MEMORY = 4096


class _Call:
    """A session with its handler, event queue and tasks."""

    def __init__(self, session: CallSession, handler: Handler) -> None:
        self.session = session
        self.handler = handler
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        #: Applies the call's events in order, and finishes the call (its last work:
        #: media teardown, recording delivery) before it ends.
        self.consumer: asyncio.Task[None] | None = None


class VoxtraApp:
    """A Stasis application serving calls with route handlers."""

    def __init__(self, settings: VoxtraSettings | None = None, *,
                 stt: STT | BatchSTT | None = None, llm: LLM | None = None,
                 tts: TTS | None = None, vad: VAD | None = None,
                 realtime: RealtimeModel | None = None,
                 end_of_turn: EndOfTurnModel | None = None,
                 recording_sink: RecordingSink | None = None, **overrides: Any) -> None:
        """``stt``, ``llm``, ``tts``, ``vad``, the speech-to-speech ``realtime`` model
        and the ``end_of_turn`` model are the voice providers every call shares
        (models load once per process); ``recording_sink`` is where recordings go
        unless ``record_start`` names another (local files in ``recordings_dir`` by
        default); ``overrides`` are settings."""
        self.settings = settings or load_settings(**overrides)
        voice = self.settings.voice
        providers = Providers(
            stt or (build("stt", voice.stt) if voice.stt else None),
            tts or (build("tts", voice.tts) if voice.tts else None),
            llm or (build("llm", voice.llm) if voice.llm else None),
            vad or (build("vad", voice.vad) if voice.vad else default_vad()),
            realtime or (build("realtime", voice.realtime) if voice.realtime else None),
            end_of_turn or _end_of_turn(voice.end_of_turn))
        self.voice = VoiceConfig(providers, voice)
        self.recording_sink = recording_sink
        self.client = AriClient(self.settings.ari_url, self.settings.ari_user,
                                self.settings.ari_password.get_secret_value(),
                                ca_file=self.settings.ari_ca_file)
        self.router = Router()
        self._configured_routes = [_route_from_settings(r) for r in self.settings.routes]
        self.calls: dict[str, _Call] = {}
        #: New calls refused because ``max_calls`` were up or ``max_load`` was reached.
        self.refused_calls = 0
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._stream: EventStream | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._accepting = False
        self._background: set[asyncio.Task[Any]] = set()
        self.bridges = BridgeRegistry(self.client)
        #: Warns, naming the code, when something blocks the event loop all calls share.
        self.watchdog = LoopWatchdog()
        #: How busy the app's loop is (:attr:`load` adds the media thread's share).
        self.loop_load = LoopLoad()
        #: Warns when :attr:`load` stays near a whole core: time to scale out.
        self.overload = OverloadAlarm()
        self._load_task: asyncio.Task[None] | None = None
        #: Conferences in progress, by name (:meth:`conference`).
        self.conferences: dict[str, Conference] = {}
        #: Channels Voxtra creates for its own use (ExternalMedia legs): never routed.
        self.own_legs = OwnLegs()
        settings = self.settings
        self._media_config = MediaConfig(
            format=AudioFormat.parse(settings.media_format), bind=settings.media_bind,
            advertise=settings.media_advertise, ports=settings.media_ports,
            jitter_depth=settings.jitter_depth,
            inactivity_timeout=settings.rtp_inactivity_timeout,
            thread=MediaThread(runner.loop_factory()) if settings.media_thread else None)

    @property
    def app_name(self) -> str:
        return self.settings.app_name

    @property
    def load(self) -> float:
        """The share of one core the process's event loops use (the app's and the media
        thread's; together they can use at most one: :mod:`voxtra.load`)."""
        thread = self._media_config.thread
        return self.loop_load.value + (thread.load.value if thread is not None else 0.0)

    async def _watch_load(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.overload.update(self.load, len(self.calls), time.monotonic())

    @property
    def stream(self) -> EventStream | None:
        """The ARI event stream (its ``stats`` and ``last_reconcile``), once started."""
        return self._stream

    # Routes ------------------------------------------------------------------

    def route(self, *, did: str | None = None, extension: str | None = None,
              pattern: str | None = None, caller: str | None = None,
              header: dict[str, str] | None = None, priority: int = 0,
              agent: bool = False, **metadata: Any) -> Callable[[Handler], Handler]:
        """Register a handler for the calls that match every condition given.

        With no condition it is the default route. Extra keyword arguments are
        route metadata, copied into ``call.metadata``. See :class:`voxtra.routing.Route`.
        With ``agent=True`` the call is a whole AI conversation
        (:func:`voxtra.handlers.agent`); the handler runs first, to set it up
        (tools, instructions, metadata).
        """

        def register(handler: Handler) -> Handler:
            run = conversation(setup=handler) if agent else handler
            self.router.add(Route(run, did=did, extension=extension, pattern=pattern,
                                  caller=caller, header=dict(header or {}),
                                  priority=priority, metadata=metadata))
            return handler

        return register

    # Lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Check ARI, open the event stream and start taking calls. A start that fails
        leaves nothing running (the watchdog's thread, tasks, the HTTP session)."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        for route in self._configured_routes:
            self.router.add(route)
        self._configured_routes = []
        await self.client.asterisk.info()
        await asyncio.to_thread(self.voice.providers.load)
        self._stream = EventStream(self.client, self.app_name, self._dispatch,
                                   tracked=lambda: set(self.calls),
                                   on_reconcile=self._reconcile)
        self._stream_task = asyncio.create_task(self._stream.run(), name="ari-events")
        self.watchdog.start()
        self.loop_load.start()
        self._load_task = asyncio.create_task(self._watch_load(), name="load")
        self._accepting = True
        waiter = asyncio.ensure_future(self._stream.connected.wait())
        await asyncio.wait({waiter, self._stream_task}, return_when=asyncio.FIRST_COMPLETED)
        if self._stream_task.done():
            waiter.cancel()
            self._stream_task.result()

    async def stop(self) -> None:
        """Stop taking calls, give handlers the grace period, hang up what is left."""
        self._accepting = False
        handlers = [t for call in self.calls.values() for t in call.tasks]
        # With Asterisk gone, no handler can finish its work: no grace to wait out.
        connected = self._stream is not None and self._stream.connected.is_set()
        if handlers and connected:
            await asyncio.wait(handlers, timeout=self.settings.shutdown_grace)
        for call in list(self.calls.values()):
            await self._hangup_quietly(call.session, "normal")
        for bridge_id in self.bridges.active:
            with contextlib.suppress(AriError):
                await self.client.bridges.destroy(bridge_id)
        for conference in list(self.conferences.values()):
            await conference.close()
        # Handlers had their grace; what finishes a call (media teardown, recording
        # delivery) runs as its last events arrive: wait for it, within a bound, while
        # the event stream is up.
        calls = list(self.calls.values())
        for task in (t for call in calls for t in call.tasks):
            task.cancel()
        consumers = [c.consumer for c in calls if c.consumer is not None]
        if consumers and connected:
            await asyncio.wait(consumers, timeout=FINISH_GRACE)
        for call in calls:
            if not call.session.ended:  # its end never arrived: finish it here
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(call.session.finish(), FINISH_GRACE)
        remaining = [t for call in calls for t in (*call.tasks, call.consumer)
                     if t is not None and not t.done()]
        for task in remaining:
            task.cancel()
        await asyncio.gather(*remaining, return_exceptions=True)
        for call in calls:
            self.calls.pop(call.session.id, None)
        if self._stream_task is not None:
            self._stream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stream_task
        self.watchdog.stop()
        self.loop_load.stop()
        if self._load_task is not None:
            self._load_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._load_task
        if self._media_config.thread is not None:
            self._media_config.thread.stop()
        await self.client.close()

    async def __aenter__(self) -> VoxtraApp:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def serve(self) -> None:
        """Run until SIGTERM or SIGINT, then shut down gracefully.

        Waits for Asterisk if it is not up yet (retrying with backoff), so an app
        may start before Asterisk does.
        """
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            if await self._wait_for_asterisk(stop):
                async with self:
                    assert self._stream_task is not None
                    waiter = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({waiter, self._stream_task},
                                       return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
                    if self._stream_task.done():
                        self._stream_task.result()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.client.close()

    async def _wait_for_asterisk(self, stop: asyncio.Event) -> bool:
        """Retry until ARI answers (True) or ``stop`` is set (False)."""
        attempt = 0
        while not stop.is_set():
            try:
                await self.client.asterisk.info()
                return True
            except AriConnectionError as exc:
                delay = Backoff().delay(attempt)
                attempt += 1
                log.warning("waiting for Asterisk (%s); retrying in %.1f s", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        return False

    def run(self) -> None:
        """Blocking entry point: ``app.run()``. An ARI error ends it with a clear message."""
        try:
            runner.run(self.serve())
        except AriError as exc:
            raise SystemExit(f"voxtra: {exc}") from None  # said once, no traceback

    # Outbound ----------------------------------------------------------------

    async def originate(self, endpoint: str, *, handler: Handler | None = None,
                        route: str | None = None, caller_id: str | None = None,
                        variables: dict[str, str] | None = None, timeout: int = 30,
                        metadata: dict[str, Any] | None = None) -> CallSession:
        """Dial ``endpoint`` (``PJSIP/loopback/sip:200@host``, ``Local/NUMBER@voxtra-outbound``).

        Returns at once an OUTBOUND :class:`CallSession` in state RINGING. Once
        answered it runs ``handler`` (or the handler of the route that matches the
        number ``route``); ``await call.outcome`` tells answered, busy, no answer or
        failed, and ``call.hangup_cause`` the Q.850 cause of a failure. A dial that
        Asterisk refuses at once (an endpoint it cannot allocate a channel for: no such
        endpoint, no contact) is failed too; only ARI itself out of reach raises.
        """
        if handler is None:
            matched = self.router.match(CallInfo(route or ""))
            if matched is None:
                raise ValueError(f"originate: no handler given and no route matches {route!r}")
            handler = matched.handler
            metadata = {**matched.metadata, **(metadata or {})}
        channel_id = f"voxtra-out-{uuid.uuid4().hex}"
        session = CallSession(
            self.client, Channel(id=channel_id, name=endpoint, state="Down"),
            app_name=self.app_name, called_number=endpoint, direction=Direction.OUTBOUND,
            metadata=metadata, bridges=self.bridges,
            recordings_dir=self.settings.recordings_dir,
            recording_sink=self.recording_sink,
            media_config=self._media_config, own_legs=self.own_legs, voice=self.voice)
        session.caller_id = caller_id or ""
        # Tracked before the request: StasisStart can beat the HTTP response.
        call = self._track(session, handler)
        try:
            await self.client.channels.originate(
                endpoint, channel_id=channel_id, app=self.app_name,
                app_args="voxtra-outbound", caller_id=caller_id, timeout=timeout,
                variables=variables)
        except AriError as exc:
            call.queue.put_nowait(StasisEnd(type="StasisEnd", application=self.app_name,
                                            channel=session.channel))
            if not isinstance(exc, AriHttpError):
                raise
            log.warning("originate %s: Asterisk refused the dial (%s): outcome failed",
                        endpoint, exc.message)
        return session

    # Dispatch ----------------------------------------------------------------

    def conference(self, name: str) -> Conference:
        """The conference ``name``, made on first use (calls join it with
        ``await app.conference("sales").join(call)``); it ends when its last
        participant leaves."""
        conference = self.conferences.get(name)
        if conference is None:
            conference = self.conferences[name] = Conference(
                self.client, name, self.settings.recordings_dir, self.recording_sink,
                self._conference_over)
        return conference

    def _conference_over(self, conference: Conference) -> None:
        if self.conferences.get(conference.name) is conference:
            del self.conferences[conference.name]

    def _dispatch(self, event: Message) -> None:
        """Route one event to its call's queue; runs in the websocket reader."""
        channel_id = event.channel_id
        if channel_id is None:
            self._to_conference(event)
            return
        if channel_id in self.own_legs:
            self.own_legs.observe(event)
            return
        if channel_id is None or channel_id in self._finished:
            return
        call = self.calls.get(channel_id)
        if call is not None:
            call.queue.put_nowait(event)
        elif isinstance(event, StasisStart):
            if self._full():
                self._reject(channel_id, "congestion")
            else:
                self._new_call(event)

    def _full(self) -> bool:
        """Whether a new call would pass ``max_calls`` or ``max_load``; if so it is
        refused with congestion (Q.850 cause 34, which Asterisk answers as SIP 503),
        which a SIP load balancer retries on another server."""
        settings, calls, load = self.settings, len(self.calls), self.load
        if settings.max_calls is not None and calls >= settings.max_calls:
            why = f"{calls} calls up, max_calls is {settings.max_calls}"
        elif settings.max_load is not None and load >= settings.max_load:
            why = f"load {load:.2f} with {calls} calls up, max_load is {settings.max_load}"
        else:
            return False
        self.refused_calls += 1
        if self.refused_calls % 100 == 1:
            log.warning("new call refused: %s (%d refused so far); run another process",
                        why, self.refused_calls)
        return True

    def _to_conference(self, event: Message) -> None:
        """A playback or recording event of a conference's bridge (``bridge:ID``)."""
        media = getattr(event, "playback", None) or getattr(event, "recording", None)
        target = getattr(media, "target_uri", None) or ""
        for conference in self.conferences.values():
            if target == f"bridge:{conference.bridge_id}":
                conference.deliver(event)

    def _reconcile(self, result: Reconciliation) -> None:
        """After a reconnect: end the calls that ended while away, adopt the new ones."""
        for channel_id in result.gone:
            call = self.calls.get(channel_id)
            if call is not None:
                call.queue.put_nowait(StasisEnd(type="StasisEnd", application=self.app_name,
                                                channel=Channel(id=channel_id)))
        for channel_id in result.unknown - self._finished.keys() - self.own_legs.ids:
            self._spawn(self._adopt(channel_id), f"adopt-{channel_id}")

    async def _adopt(self, channel_id: str) -> None:
        """Route a call whose ``StasisStart`` was missed while the stream was away."""
        try:
            channel = await self.client.channels.get(channel_id)
        except NotFoundError:
            return
        if channel_id.startswith(RECORDING_LEG_PREFIX):
            return  # a recording's snoop leg: its call, adopted, takes it over
        if (channel.name or "").startswith(MEDIA_LEG_TECHNOLOGIES):
            # A media leg whose call was lost (e.g. a previous process crashed): the leg
            # and the bridge Voxtra made for it go (the call, adopted, gets new ones).
            orphans = [b.id for b in await self.client.bridges.list()
                       if b.id.startswith("voxtra-") and channel_id in b.channels]
            log.info("hanging up orphaned media leg %s (bridges %s)", channel_id, orphans)
            with contextlib.suppress(NotFoundError):
                await self.client.channels.hangup(channel_id)
            for bridge_id in orphans:
                with contextlib.suppress(AriError):
                    await self.client.bridges.destroy(bridge_id)
            return
        if channel_id not in self.calls and channel_id not in self._finished:
            log.info("adopting call %s that arrived while ARI was away", channel_id)
            # A playback started by a process that died would hold every request on the
            # channel until it ends (a tone never does): stop it first.
            playback = await self.client.channels.get_variable(channel_id, PLAYBACK_VARIABLE)
            if playback:
                with contextlib.suppress(AriError):
                    await self.client.playbacks.stop(playback)
            recordings = await self.client.channels.get_variable(channel_id,
                                                                 RECORDINGS_VARIABLE)
            self._new_call(StasisStart(type="StasisStart", application=self.app_name,
                                       channel=channel), recordings)

    def _new_call(self, event: StasisStart, recordings: str | None = None) -> None:
        """Track the call at once (its events queue up in order), route it in a task."""
        channel = event.channel
        if not self._accepting:
            self._reject(channel.id, "congestion")
            return
        dialplan_exten = channel.dialplan.exten if channel.dialplan else None
        called = event.args[0] if event.args else dialplan_exten or ""
        session = CallSession(self.client, channel, app_name=self.app_name,
                              called_number=called, bridges=self.bridges,
                              recordings_dir=self.settings.recordings_dir,
                              recording_sink=self.recording_sink,
                              media_config=self._media_config, own_legs=self.own_legs,
                              voice=self.voice)
        if recordings:
            names = session.adopt_recordings(recordings)
            log.info("call %s: recordings %s taken over", channel.id, names)
        call = self._track(session, self._unrouted)
        call.tasks.append(asyncio.create_task(self._route(call), name=f"call-{channel.id}"))

    async def _route(self, call: _Call) -> None:
        session = call.session
        # Stasis stops telling the app about a channel at StasisEnd; a subscription of
        # its own keeps ChannelDestroyed, which carries the hangup cause.
        with contextlib.suppress(AriError):
            await self.client.applications.subscribe(self.app_name, f"channel:{session.id}")
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
        log.info("call %s from %r to %r: %s", session.id, session.caller_id,
                 session.called_number, call.handler.__name__)
        await self._run_handler(call)

    async def _unrouted(self, call: CallSession) -> None:
        """What happens to a call no route matches (settings ``unmatched_*``)."""
        settings = self.settings
        log.warning("no route for call %s to %r", call.id, call.called_number)
        if settings.unmatched_action == "announce":
            await call.answer()
            await call.play_file(settings.unmatched_prompt)
        await call.hangup(settings.unmatched_cause)

    def _track(self, session: CallSession, handler: Handler) -> _Call:
        call = _Call(session, handler)
        self.calls[session.id] = call
        call.consumer = asyncio.create_task(self._consume(call), name=f"events-{session.id}")
        return call

    def _start_handler(self, call: _Call) -> None:
        call.tasks.append(asyncio.create_task(self._run_handler(call),
                                              name=f"call-{call.session.id}"))

    async def _consume(self, call: _Call) -> None:
        session = call.session
        while not session.ended:
            event = await call.queue.get()
            if isinstance(event, StasisEnd) and not session.leaving:
                await self._until_destroyed(call)
            await session.deliver(event)
            if isinstance(event, StasisStart) and not call.tasks and not session.ended:
                self._start_handler(call)  # an originated call was answered
        await asyncio.gather(*call.tasks, return_exceptions=True)
        self.calls.pop(session.id, None)
        self._remember_finished(session.id)

    async def _until_destroyed(self, call: _Call, wait: float = 0.5) -> None:
        """After StasisEnd, deliver what follows until ChannelDestroyed (with the hangup
        cause) or ``wait`` seconds (a channel that went back to the dialplan lives on)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not call.session.ended:
            try:
                event = await asyncio.wait_for(call.queue.get(), deadline - loop.time())
            except TimeoutError:
                return
            await call.session.deliver(event)

    async def _run_handler(self, call: _Call) -> None:
        session = call.session
        try:
            await call.handler(session)
        except CallEndedError:  # the caller hung up while the handler was at work
            log.info("call %s ended while handler %s ran", session.id, call.handler.__name__)
        except Exception:
            log.exception("handler %s failed on call %s", call.handler.__name__, session.id)
            session.state = CallState.FAILED
        if not session.handed_off or session.state is CallState.FAILED:
            await self._hangup_quietly(session, "normal")

    async def _hangup_quietly(self, session: CallSession, reason: str) -> None:
        try:
            await session.hangup(reason)
        except Exception as exc:
            log.warning("hangup of call %s failed: %s", session.id, exc)

    def _reject(self, channel_id: str, reason: str) -> None:
        self._remember_finished(channel_id)
        self._spawn(self.client.channels.hangup(channel_id, reason), f"reject-{channel_id}")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``coro`` in the background, holding a reference until it is done."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _remember_finished(self, channel_id: str) -> None:
        self._finished[channel_id] = None
        while len(self._finished) > FINISHED_MEMORY:
            self._finished.popitem(last=False)


def _end_of_turn(choice: ProviderSettings | Literal["none"] | None) -> EndOfTurnModel | None:
    """The end-of-turn model the settings name; unset, the one installed (if any)."""
    if choice == "none":
        return None
    if choice is None:
        return default_turn_model()
    model: EndOfTurnModel = build("turn", choice)
    return model
