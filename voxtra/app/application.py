"""VoxtraApp: the front of the app. Settings, routes, providers, the lifecycle
(start, serve, stop) and ``originate``; the calls themselves are in
:mod:`voxtra.app.calls`, what follows a reconnect in :mod:`voxtra.app.recovery`.

Every call runs in tasks of its own. A handler that *blocks* (``time.sleep``, a
synchronous client, heavy CPU work) stops the event loop every call shares, so every
call's events wait (audio already queued keeps playing: media runs on its own thread,
:mod:`voxtra.media.thread`). The watchdog (:mod:`voxtra.app.watchdog`) logs where;
run such code with ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

from voxtra import logs, runner
from voxtra.app import tracing
from voxtra.app.calls import Call, Calls, CallWatcher
from voxtra.app.hooks import CallWebhooks
from voxtra.app.recovery import reconcile
from voxtra.app.routing import CallInfo, Handler, Route, Router
from voxtra.app.status import StatusServer
from voxtra.app.telemetry import Readings, Telemetry
from voxtra.app.tracing import CallTracing
from voxtra.app.watchdog import LoopWatchdog
from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriConnectionError, AriError, AriHttpError
from voxtra.ari.events import EventStream
from voxtra.ari.legs import OwnLegs
from voxtra.ari.model_base import Message
from voxtra.ari.models import Channel, StasisEnd
from voxtra.call.conference import Conference
from voxtra.call.context import BridgeRegistry, CallContext, VoiceConfig
from voxtra.call.media import MediaConfig
from voxtra.call.session import CallSession
from voxtra.call.state import Direction
from voxtra.handlers import agent as conversation
from voxtra.load import LoopLoad, OverloadAlarm
from voxtra.media.audio import AudioFormat
from voxtra.media.thread import MediaThread
from voxtra.recording.sinks import RecordingSink
from voxtra.retry import Backoff
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
from voxtra.webhooks import WebhookSender

log = logging.getLogger(__name__)


def _route_from_settings(config: RouteSettings) -> Route:
    module_name, _, attribute = config.handler.partition(":")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"route handler {config.handler!r} cannot be imported "
                          f"(expected 'package.module:function'): {exc}") from None
    return Route(handler, **config.model_dump(exclude={"handler"}))


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
        self.client = AriClient(self.settings.ari_url, self.settings.ari_user,
                                self.settings.ari_password.get_secret_value(),
                                ca_file=self.settings.ari_ca_file)
        self.router = Router()
        self._configured_routes = [_route_from_settings(r) for r in self.settings.routes]
        settings = self.settings
        media = MediaConfig(
            format=AudioFormat.parse(settings.media_format), bind=settings.media_bind,
            advertise=settings.media_advertise, ports=settings.media_ports,
            jitter_depth=settings.jitter_depth,
            inactivity_timeout=settings.rtp_inactivity_timeout,
            thread=MediaThread(runner.loop_factory()) if settings.media_thread else None)
        #: What every call of the app gets (:class:`~voxtra.call.context.CallContext`).
        self.context = CallContext(self.client, settings.app_name,
                                   BridgeRegistry(self.client), OwnLegs(), media,
                                   VoiceConfig(providers, voice),
                                   settings.recordings_dir, recording_sink, self.originate)
        #: Prometheus metrics of the app; served with /health and /ready on
        #: ``status_port`` (:mod:`voxtra.app.status`).
        self.telemetry = Telemetry(Readings(
            calls_up=lambda: len(self.calls), load=lambda: self.load,
            connected=lambda: self._stream is not None and self._stream.connected.is_set(),
            refused=lambda: self.refused_calls))
        self.client.on_answer = self.telemetry.request
        self.status = StatusServer(self.telemetry, self._not_ready)
        #: Call events posted to ``webhook_url``, signed (:mod:`voxtra.webhooks`).
        self.webhooks: CallWebhooks | None = None
        if settings.webhook_url is not None and settings.webhook_secret is not None:
            self.webhooks = CallWebhooks(WebhookSender(
                settings.webhook_url, settings.webhook_secret.get_secret_value(),
                settings.app_name, count=self.telemetry.webhook), lambda c: c in self.calls)
        watchers: list[CallWatcher] = [self.telemetry, *([self.webhooks] if self.webhooks else []),
                                       *([CallTracing()] if tracing.available() else [])]
        #: Told of every ARI event before its call is (metrics, webhooks).
        self._event_watchers = [self.telemetry.event,
                                *([self.webhooks.event] if self.webhooks else [])]
        self._calls = Calls(self.context, settings, self.router, lambda: self.load,
                            self._to_conference, watchers)
        self._stream: EventStream | None = None
        self._stream_task: asyncio.Task[None] | None = None
        #: Warns, naming the code, when something blocks the event loop all calls share.
        self.watchdog = LoopWatchdog()
        #: How busy the app's loop is (:attr:`load` adds the media thread's share).
        self.loop_load = LoopLoad()
        #: Warns when :attr:`load` stays near a whole core: time to scale out.
        self.overload = OverloadAlarm()
        self._load_task: asyncio.Task[None] | None = None
        #: Conferences in progress, by name (:meth:`conference`).
        self.conferences: dict[str, Conference] = {}

    @property
    def calls(self) -> dict[str, Call]:
        """The calls in progress, by channel id."""
        return self._calls.active

    @property
    def refused_calls(self) -> int:
        """New calls refused because ``max_calls`` were up or ``max_load`` was reached."""
        return self._calls.refused

    @property
    def voice(self) -> VoiceConfig:
        """The providers every call shares, and the voice settings."""
        return self.context.voice

    @property
    def recording_sink(self) -> RecordingSink | None:
        return self.context.recording_sink

    @property
    def bridges(self) -> BridgeRegistry:
        return self.context.bridges

    @property
    def own_legs(self) -> OwnLegs:
        """Channels Voxtra creates for its own use (ExternalMedia legs): never routed."""
        return self.context.own_legs

    @property
    def app_name(self) -> str:
        return self.settings.app_name

    @property
    def load(self) -> float:
        """The share of one core the process's event loops use (the app's and the media
        thread's; together they can use at most one: :mod:`voxtra.load`)."""
        thread = self.context.media.thread
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

    @property
    def routes(self) -> list[Route]:
        """Every route (the settings' too), in the order calls are matched against them."""
        router = Router()
        for route in [*self.router.routes, *self._configured_routes]:
            router.add(route)
        return router.routes

    def route(self, *, did: str | None = None, extension: str | None = None,
              pattern: str | None = None, caller: str | None = None,
              header: dict[str, str] | None = None, priority: int = 0,
              agent: bool = False, **metadata: Any) -> Callable[[Handler], Handler]:
        """Register a handler for the calls that match every condition given.

        With no condition it is the default route. Extra keyword arguments are
        route metadata, copied into ``call.metadata``. See :class:`voxtra.app.routing.Route`.
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
        info = await self.client.asterisk.info()
        await asyncio.to_thread(self.voice.providers.load)
        self._stream = EventStream(self.client, self.app_name, self._dispatch,
                                   tracked=lambda: set(self.calls),
                                   on_reconcile=lambda result: reconcile(self._calls, result))
        self._stream_task = asyncio.create_task(self._stream.run(), name="ari-events")
        self.watchdog.start()
        if self.settings.status_port is not None:
            await self.status.start(self.settings.status_bind, self.settings.status_port)
        if self.webhooks is not None:
            self.webhooks.sender.start()
        self.loop_load.start()
        self._load_task = asyncio.create_task(self._watch_load(), name="load")
        self._calls.accepting = True
        waiter = asyncio.ensure_future(self._stream.connected.wait())
        await asyncio.wait({waiter, self._stream_task}, return_when=asyncio.FIRST_COMPLETED)
        if self._stream_task.done():
            waiter.cancel()
            self._stream_task.result()
        version = info.system.version if info.system else "?"
        log.info("Stasis application %r serving on %s (Asterisk %s); routes: %s",
                 self.app_name, self.settings.ari_url, version,
                 "; ".join(map(str, self.routes)) or "none (every call is unrouted)")

    async def stop(self, hand_over: bool = False) -> None:
        """Stop taking calls, give handlers the grace period, hang up what is left.

        With ``hand_over``, leave every call, bridge and recording up instead, for the
        next process serving the Stasis application to adopt (``voxtra run --reload``
        restarts on a code change this way; so does ``serve()`` on SIGHUP)."""
        if hand_over:
            await self._stop_events()
            await self._calls.hand_over()
        else:
            # With Asterisk gone, no handler can finish its work: no grace to wait out.
            connected = self._stream is not None and self._stream.connected.is_set()
            await self._calls.close(self.settings.shutdown_grace, connected)
            for bridge_id in self.bridges.active:
                with contextlib.suppress(AriError):
                    await self.client.bridges.destroy(bridge_id)
            for conference in list(self.conferences.values()):
                await conference.close()
            await self._stop_events()
        self.watchdog.stop()
        await self.status.stop()
        if self.webhooks is not None:
            await self.webhooks.sender.stop()
        self.loop_load.stop()
        if self._load_task is not None:
            self._load_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._load_task
        if self.context.media.thread is not None:
            self.context.media.thread.stop()
        await self.client.close()

    async def _stop_events(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stream_task

    async def __aenter__(self) -> VoxtraApp:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def serve(self) -> None:
        """Run until SIGTERM or SIGINT, then shut down gracefully; on SIGHUP, stop and
        leave the calls up for the next process to adopt (:meth:`stop`).

        Waits for Asterisk if it is not up yet (retrying with backoff), so an app
        may start before Asterisk does.
        """
        stop = asyncio.Event()
        hand_over = False

        def handing_over() -> None:
            nonlocal hand_over
            hand_over = True
            stop.set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, handing_over)
        try:
            if await self._wait_for_asterisk(stop):
                await self.start()
                try:
                    assert self._stream_task is not None
                    waiter = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({waiter, self._stream_task},
                                       return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
                    if self._stream_task.done():
                        self._stream_task.result()
                finally:
                    await self.stop(hand_over)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
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
        """Blocking entry point: ``app.run()``. Logs to stderr at INFO (a banner with the
        routes, a line as each call starts and ends) unless the program configured
        logging itself (:func:`voxtra.logs.configure`). An ARI error ends it with a clear message,
        and so does a call from inside a running event loop (a module that runs its app
        when it is imported, by ``voxtra demo`` say), which asyncio cannot do."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop runs here: the usual case
            pass
        else:
            raise SystemExit(
                "voxtra: app.run() was called inside a running event loop (a module that "
                "runs its app when imported?): put it under `if __name__ == \"__main__\":`, "
                "or `await app.serve()` from async code")
        logs.configure()  # unless the program configured logging itself
        try:
            runner.run(self.serve())
        except AriError as exc:
            raise SystemExit(f"voxtra: {exc}") from None  # said once, no traceback

    # Outbound ----------------------------------------------------------------

    async def originate(self, endpoint: str, *, handler: Handler | None = None,
                        route: str | None = None, caller_id: str | None = None,
                        variables: dict[str, str] | None = None, timeout: int = 30,
                        metadata: dict[str, Any] | None = None,
                        channel_id: str | None = None) -> CallSession:
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
        channel_id = channel_id or f"voxtra-out-{uuid.uuid4().hex}"
        session = CallSession(
            self.context, Channel(id=channel_id, name=endpoint, state="Down"),
            called_number=endpoint, direction=Direction.OUTBOUND, metadata=metadata)
        session.caller_id = caller_id or ""
        # Tracked before the request: StasisStart can beat the HTTP response.
        call = self._calls.track(session, handler)
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
                self.client, name, self.settings.recordings_dir, self.context.recording_sink,
                self._conference_over)
        return conference

    def _conference_over(self, conference: Conference) -> None:
        if self.conferences.get(conference.name) is conference:
            del self.conferences[conference.name]

    def _dispatch(self, event: Message) -> None:
        for watch in self._event_watchers:
            watch(event)
        self._calls.dispatch(event)

    def _not_ready(self) -> str | None:
        """Why the app takes no new calls now (None: it does)."""
        if self._stream is None or not self._stream.connected.is_set():
            return "ARI is not connected"
        if not self._calls.accepting:
            return "shutting down"
        if self.overload.active:
            return f"overloaded (load {self.load:.2f})"
        return None

    def _to_conference(self, event: Message) -> None:
        """A playback or recording event of a conference's bridge (``bridge:ID``)."""
        media = getattr(event, "playback", None) or getattr(event, "recording", None)
        target = getattr(media, "target_uri", None) or ""
        for conference in self.conferences.values():
            if target == f"bridge:{conference.bridge_id}":
                conference.deliver(event)


def _end_of_turn(choice: ProviderSettings | Literal["none"] | None) -> EndOfTurnModel | None:
    """The end-of-turn model the settings name; unset, the one installed (if any)."""
    if choice == "none":
        return None
    if choice is None:
        return default_turn_model()
    model: EndOfTurnModel = build("turn", choice)
    return model
