"""The ARI event websocket: one connection per Stasis application, kept alive.

``EventStream.run()`` connects to ``/ari/events?app=NAME``, parses every message
into a typed event and hands it to a plain (non-async) callback, so the reader
never waits on application code (ari.conf's ``websocket_write_timeout`` drops a
slow reader). A dropped connection is retried with capped exponential backoff
and full jitter, and every connection is followed by a reconcile (which tracked
channels are still in the app, which are new). ``ApplicationReplaced`` (another
connection took the app name) stops the stream with
:class:`ApplicationReplacedError`. Malformed messages are logged and counted,
never fatal. Keepalive pings (``heartbeat``) notice a silently dropped peer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import ValidationError

from voxtra.ari.client import AriClient, tls_error
from voxtra.ari.errors import (
    ApplicationReplacedError,
    AriAuthError,
    AriConnectionError,
    NotFoundError,
)
from voxtra.ari.model_base import Event, Message
from voxtra.ari.models import EVENT_TYPES
from voxtra.retry import Backoff

log = logging.getLogger(__name__)

#: Dropped messages logged one by one before only every thousandth is.
MALFORMED_LOGGED = 5


def parse_event(data: dict[str, Any]) -> Message:
    """The typed model for one websocket message; an unknown type becomes an :class:`Event`.

    Raises pydantic's ``ValidationError`` when a known type misses a required field.
    """
    cls = EVENT_TYPES.get(str(data.get("type")), Event)
    return cls.model_validate(data)


@dataclass
class StreamStats:
    connects: int = 0
    #: Times the stream was down: a failed attempt or a dropped connection (each
    #: followed by a backoff delay).
    failed_attempts: int = 0
    events: int = 0
    malformed: int = 0


@dataclass(frozen=True)
class Reconciliation:
    """What a (re)connection found, compared with the channels the layer above tracks.

    Asterisk keeps channels in Stasis while the app is away but does not replay the
    events it missed, so after every connection the stream asks
    ``GET /applications/{app}`` which channels are still there.
    """

    #: Tracked channels still in the application.
    alive: frozenset[str]
    #: Tracked channels that ended while the stream was away.
    gone: frozenset[str]
    #: Channels in the application that the layer above does not know (they
    #: entered Stasis while the stream was away).
    unknown: frozenset[str]
    #: Bridges the application holds.
    bridges: frozenset[str]


class EventStream:
    """Receives the events of one Stasis application.

    ``tracked()`` returns the channel ids the layer above knows; after every
    connection ``on_reconcile`` gets a :class:`Reconciliation` against them.
    """

    def __init__(self, client: AriClient, app_name: str,
                 on_event: Callable[[Message], None],
                 tracked: Callable[[], set[str]] = set,
                 on_reconcile: Callable[[Reconciliation], None] | None = None,
                 backoff: Backoff | None = None, heartbeat: float = 5.0) -> None:
        self.client = client
        self.app_name = app_name
        self.on_event = on_event
        self.tracked = tracked
        self.on_reconcile = on_reconcile
        self.backoff = backoff or Backoff()
        self.heartbeat = heartbeat
        self.stats = StreamStats()
        self.connected = asyncio.Event()
        self.last_reconcile: Reconciliation | None = None
        self._attempt = 0

    @property
    def url(self) -> str:
        return self.client.base_url.replace("http", "ws", 1) + "/ari/events"

    async def run(self) -> None:
        """Receive events until cancelled; reconnect on every drop.

        Raises :class:`AriAuthError` (bad credentials, at any attempt),
        :class:`AriTlsError` (ARI's certificate is not trusted) and
        :class:`ApplicationReplacedError`.
        """
        while True:
            try:
                await self._session()
            except aiohttp.ClientSSLError as exc:  # a wrong CA does not heal by retrying
                raise tls_error(self.client, exc) from None
            except (aiohttp.ClientConnectionError, aiohttp.WSServerHandshakeError,
                    TimeoutError, ConnectionError, AriConnectionError) as exc:
                if isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status in (401, 403):
                    raise AriAuthError(
                        f"ARI at {self.client.base_url} refused user {self.client.username!r}: "
                        "check the ARI user and password"
                    ) from None
                log.warning("ARI event stream for %r lost: %s", self.app_name, exc)
            self.connected.clear()
            self.client.renew_connections()  # Asterisk may come back as a new process
            self.stats.failed_attempts += 1
            delay = self.backoff.delay(self._attempt)
            self._attempt += 1
            log.info("reconnecting ARI event stream in %.2f s (attempt %d)", delay,
                     self._attempt)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        params = {"app": self.app_name, "subscribeAll": "false"}
        async with self.client.session.ws_connect(
            self.url, params=params, heartbeat=self.heartbeat,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
        ) as ws:
            self.stats.connects += 1
            self._attempt = 0
            log.info("ARI event stream for %r connected", self.app_name)
            await self._reconcile()
            self.connected.set()
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._receive(message.data)
                elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                    break
                else:
                    self._dropped(f"ARI websocket message of type {message.type.name}")
        raise ConnectionError("websocket closed")

    async def _reconcile(self) -> None:
        try:
            application = await self.client.applications.get(self.app_name)
        except NotFoundError:
            # The websocket is up but Asterisk does not list the application (yet, or
            # any more: a previous connection of the same name closing unregisters it):
            # a lost connection, to be made again.
            raise ConnectionError(f"application {self.app_name!r} not registered") from None
        present = set(application.channel_ids)
        known = self.tracked()
        result = Reconciliation(
            alive=frozenset(known & present), gone=frozenset(known - present),
            unknown=frozenset(present - known), bridges=frozenset(application.bridge_ids),
        )
        self.last_reconcile = result
        if result.gone or result.unknown:
            log.warning("ARI reconnect for %r: %d calls alive, %d ended while away, %d new",
                        self.app_name, len(result.alive), len(result.gone), len(result.unknown))
        if self.on_reconcile is not None:
            self.on_reconcile(result)

    def _dropped(self, what: str) -> None:
        """Count a message that is not an event; say so for the first few and then every
        thousandth (a flood of garbage must not flood the log too)."""
        self.stats.malformed += 1
        count = self.stats.malformed
        if count <= MALFORMED_LOGGED or count % 1000 == 0:
            log.warning("dropped %s (%d dropped so far)", what, count)

    def _receive(self, text: str) -> None:
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            event = parse_event(data)
        except (ValueError, ValidationError) as exc:
            self._dropped(f"malformed ARI event ({str(exc)[:200]}): {text[:200]}")
            return
        self.stats.events += 1
        if event.type == "ApplicationReplaced":
            raise ApplicationReplacedError(
                f"another connection took over Stasis application {self.app_name!r}"
            )
        try:
            self.on_event(event)
        except Exception:
            log.exception("event callback failed on %s", event.type)
