"""ARI REST client on aiohttp.

Paths and statuses follow the ARI reference of Asterisk 22 (the swagger files in
``/usr/share/asterisk/rest-api/``). Credentials travel as HTTP basic auth in a
header, never in a URL, so they do not reach logs or error messages.

With an ``https://`` base URL, REST and the event websocket (``wss://``) run over
TLS (RFC 8446/5246) with the server's certificate verified, chain and host name,
against ``ca_file`` (PEM) or the system's CAs; a failure is an :class:`AriTlsError`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from voxtra.ari import resources
from voxtra.ari.errors import (
    AriAuthError,
    AriConnectionError,
    AriNotEnabledError,
    AriTlsError,
    http_error,
)

log = logging.getLogger(__name__)

Params = dict[str, str | int | float | bool]

#: Methods a client may send again on its own when the connection was lost before an
#: answer came (RFC 9110 section 9.2.2): doing them twice does what doing them once does.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class AriClient:
    """REST access to one Asterisk's ARI at ``base_url`` (``http://host:port``).

    Operations are grouped by resource: ``client.channels.answer(id)``,
    ``client.bridges.create(...)``, ...; :meth:`request` reaches anything else.
    """

    def __init__(self, base_url: str, username: str, password: str,
                 timeout: float = 10.0, ca_file: str | Path | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        #: The CAs (PEM) that vouch for ARI's certificate; None: the system's.
        self.ca_file = ca_file
        self._ssl = tls_context(self.base_url, ca_file)
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        #: Sessions left by :meth:`renew_connections`, closing once their requests end.
        self._retiring: set[asyncio.Task[None]] = set()
        self.asterisk = resources.Asterisk(self)
        self.channels = resources.Channels(self)
        self.bridges = resources.Bridges(self)
        self.playbacks = resources.Playbacks(self)
        self.recordings = resources.Recordings(self)
        self.endpoints = resources.Endpoints(self)
        self.applications = resources.Applications(self)
        self.sounds = resources.Sounds(self)
        self.device_states = resources.DeviceStates(self)
        self.events = resources.Events(self)
        #: Told the method and seconds of each request that got an answer (metrics).
        self.on_answer: Callable[[str, float], None] | None = None

    def __repr__(self) -> str:
        return f"AriClient({self.base_url!r}, user={self.username!r})"

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=self._timeout,
                connector=aiohttp.TCPConnector(ssl=self._ssl))
        return self._session

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._retiring)
        if self._session is not None:
            await self._session.close()

    def renew_connections(self) -> None:
        """Send later requests over new connections (the event stream calls it when it
        loses Asterisk): a kept-alive connection may lead to an Asterisk that has
        restarted since, and the next request on it would fail with "Server
        disconnected". Requests under way finish on the old connections, which close
        after the request timeout."""
        old, self._session = self._session, None
        if old is None or old.closed:
            return

        async def close_later() -> None:
            try:
                await asyncio.sleep(self._timeout.total or 0)
            finally:
                await old.close()

        task = asyncio.get_running_loop().create_task(close_later())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def request(self, method: str, path: str, params: Params | None = None,
                      json: Any = None) -> Any:
        """Call ``/ari{path}``; return the decoded JSON body (None for 204).

        Raises :class:`AriAuthError`, :class:`AriConnectionError`, :class:`AriTlsError`
        or an :class:`AriHttpError` subclass.
        """
        try:
            return await self._request(method, path, params, json, again=method in IDEMPOTENT)
        except _SendAgain:
            # A kept-alive connection the server closed as the request went out.
            log.debug("ARI %s %s: the connection closed before an answer; sent again",
                      method, path)
        return await self._request(method, path, params, json, again=False)

    async def _request(self, method: str, path: str, params: Params | None, json: Any, *,
                       again: bool) -> Any:
        """:meth:`request`, once; ``again``: raise :class:`_SendAgain` when the
        connection is lost before the answer."""
        query = {k: _query_value(v) for k, v in (params or {}).items()}
        url = f"{self.base_url}/ari{path}"
        began = time.monotonic()
        try:
            async with self.session.request(method, url, params=query, json=json) as response:
                if self.on_answer is not None:
                    self.on_answer(method, time.monotonic() - began)
                if response.status == 401:
                    raise AriAuthError(
                        f"ARI at {self.base_url} refused user {self.username!r} (HTTP "
                        "401): check the ARI user and password in ari.conf and in "
                        "Voxtra's settings"
                    )
                if response.status == 403:  # the user is known: this request is not allowed
                    detail = (await response.text())[:200].strip()
                    raise AriAuthError(
                        f"ARI at {self.base_url} forbids user {self.username!r} {method} "
                        f"{path} (HTTP 403{': ' + detail if detail else ''}): a read_only "
                        "user in ari.conf may only read, and some resources are not "
                        "writable on every Asterisk"
                    )
                if response.status >= 400:
                    if response.content_type == "text/html" and path == "/asterisk/info":
                        # Asterisk's HTTP server answers, but not as ARI (a page, not JSON).
                        raise AriNotEnabledError(
                            f"{self.base_url} is Asterisk's HTTP server without ARI (HTTP "
                            f"{response.status} for /ari): enable it in ari.conf "
                            "([general] enabled = yes) and load res_ari")
                    raise http_error(method, path, response.status, await _error_text(response))
                if response.status == 204 or response.content_length == 0:
                    return None
                if response.content_type == "application/json":
                    return await response.json()
                return await response.read()
        except aiohttp.ClientSSLError as exc:
            raise tls_error(self, exc) from None
        except aiohttp.ServerDisconnectedError:
            if again:
                raise _SendAgain from None
            raise AriConnectionError(f"ARI at {self.base_url} closed the connection before "
                                     f"answering {method} {path}") from None
        except aiohttp.ClientConnectionError as exc:
            why = exc.os_error.strerror if isinstance(exc, aiohttp.ClientConnectorError) \
                and exc.os_error.strerror else str(exc)
            raise AriConnectionError(f"cannot reach ARI at {self.base_url} ({why}): is Asterisk "
                                     "running there, and is VOXTRA_ARI_URL right?") from None
        except TimeoutError:
            raise AriConnectionError(f"ARI at {self.base_url} did not answer {method} {path} "
                                     "in time") from None


class _SendAgain(Exception):
    """The connection was lost before an answer to a request that may be sent again."""


def tls_context(base_url: str, ca_file: str | Path | None) -> ssl.SSLContext | bool:
    """The client TLS context for ``base_url``: for https, certificate and host name
    verification against ``ca_file`` (or the system's CAs), TLS 1.2 at least; for http,
    aiohttp's default (``True``, unused). Warns when http would carry the password
    beyond this machine."""
    parts = urlsplit(base_url)
    if parts.scheme != "https":
        if ca_file is not None:
            log.warning("ari_ca_file is set but the ARI URL %s is not https: not used",
                        base_url)
        if not _is_loopback(parts.hostname or ""):
            log.warning("ARI at %s is plain HTTP: the ARI password and call control cross "
                        "the network in cleartext (use https, see http.conf tlsenable)",
                        base_url)
        return True
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise AriTlsError(f"ari_ca_file {ca_file} cannot be used as CA certificates (PEM): "
                          f"{reason}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def tls_error(client: AriClient, exc: aiohttp.ClientSSLError) -> AriTlsError:
    """The :class:`AriTlsError` that says why TLS with ARI failed and what to change."""
    trusted = f"the CA file {client.ca_file}" if client.ca_file else "the system's CAs"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        failure = exc.certificate_error
        reason = (getattr(failure, "verify_message", None) or getattr(failure, "reason", None)
                  or failure)
        return AriTlsError(
            f"ARI at {client.base_url} presented a certificate that {trusted} does not "
            f"vouch for ({reason}): set ari_ca_file to the CA that signed Asterisk's "
            "certificate (http.conf tlscertfile), and reach ARI by a name or address the "
            "certificate holds")
    return AriTlsError(f"TLS with ARI at {client.base_url} failed ({exc.os_error}): does "
                       "that port serve HTTPS (http.conf tlsenable, tlsbindaddr)?")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _query_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _error_text(response: aiohttp.ClientResponse) -> str:
    try:
        body = await response.json(content_type=None)
        if isinstance(body, dict) and "message" in body:
            return str(body["message"])
    except (ValueError, aiohttp.ContentTypeError):
        pass
    text = await response.text()
    if response.content_type == "text/html":  # a web page: its status line says enough
        return response.reason or ""
    return text[:200] or response.reason or ""
