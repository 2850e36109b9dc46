"""Call events to an HTTP endpoint, signed, never holding up a call; and the check a
receiver runs on them.

Each event is a JSON ``POST``: ``{"id", "type", "time", "app", "call_id", "data"}``,
``type`` one of ``call.started``, ``call.answered``, ``call.dtmf``, ``call.transcript``,
``call.recording``, ``call.ended``. The ``Voxtra-Signature`` header is
``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>``: the
receiver recomputes it (:func:`verify_signature`) and refuses a timestamp older than its
tolerance, so a captured request replayed later fails. A delivery that fails is tried
again with backoff; the same ``id`` comes each time, for the receiver to drop repeats.

Events wait in a bounded queue for one sender task: a slow or dead receiver fills it and
loses its newest events (counted), while calls go on untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from voxtra.errors import VoxtraError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Voxtra-Signature"
#: Seconds a receiver accepts a signature's timestamp by default (either way of now).
TOLERANCE = 300.0


class WebhookSignatureError(VoxtraError):
    """A webhook's signature is missing, malformed, too old or wrong."""


def sign(body: bytes, secret: str, timestamp: float | None = None) -> str:
    """The ``Voxtra-Signature`` header value of ``body``."""
    t = int(time.time() if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify_signature(body: bytes, header: str | None, secret: str, *,
                     tolerance: float = TOLERANCE, now: float | None = None) -> None:
    """Check a received webhook: the raw ``body`` and its ``Voxtra-Signature`` header.
    Raises :class:`WebhookSignatureError` unless the signature is the secret's and its
    timestamp is within ``tolerance`` seconds of ``now``."""
    if not header:
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER}: {header!r}") from None
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise WebhookSignatureError(f"signed at {t}, outside {tolerance:.0f} s of now: "
                                    "a replay, or a clock that is off")
    if not hmac.compare_digest(sign(body, secret, t).split("v1=", 1)[1], given):
        raise WebhookSignatureError("signature mismatch: another secret, or an altered body")


class WebhookSender:
    """Posts events to ``url``; :meth:`send` only queues (it never waits)."""

    def __init__(self, url: str, secret: str, app_name: str, *, queue_size: int = 1000,
                 attempts: int = 4, timeout: float = 5.0,
                 count: Callable[[str], None] = lambda result: None) -> None:
        """``count(result)`` is told each event's fate: delivered, failed (every attempt
        did) or dropped (the queue was full)."""
        self.url = url
        self._secret = secret
        self.app_name = app_name
        self.attempts = attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.count = count
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def send(self, kind: str, call_id: str, data: dict[str, Any]) -> None:
        body = json.dumps({"id": uuid.uuid4().hex, "type": kind, "time": time.time(),
                           "app": self.app_name, "call_id": call_id, "data": data}).encode()
        try:
            self._queue.put_nowait(body)
        except asyncio.QueueFull:
            self.count("dropped")

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
        self._task = asyncio.create_task(self._deliver_all(), name="webhooks")

    async def stop(self, grace: float = 2.0) -> None:
        """Deliver what is queued within ``grace`` seconds, then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            log.warning("webhooks: %d events not delivered at shutdown", self._queue.qsize())
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._session is not None:
            await self._session.close()

    async def _deliver_all(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                self.count("delivered" if await self._deliver(body) else "failed")
            finally:
                self._queue.task_done()

    async def _deliver(self, body: bytes) -> bool:
        assert self._session is not None
        delay = 0.5
        for attempt in range(1, self.attempts + 1):
            try:
                async with self._session.post(
                        self.url, data=body, headers={
                            "Content-Type": "application/json",
                            SIGNATURE_HEADER: sign(body, self._secret)}) as response:
                    if response.status < 300:
                        return True
                    why = f"HTTP {response.status}"
                    if 400 <= response.status < 500 and response.status not in (408, 429):
                        break  # the receiver refuses it: trying again will not help
            except (aiohttp.ClientError, TimeoutError) as exc:
                why = str(exc) or type(exc).__name__
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        where = urlsplit(self.url)  # not its query: it may carry a token
        log.warning("webhook to %s://%s%s not delivered: %s", where.scheme, where.netloc,
                    where.path, why)
        return False
