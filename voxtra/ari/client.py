"""ARI REST client on aiohttp.

Paths and statuses follow the ARI reference of Asterisk 22 (the swagger files in
``/usr/share/asterisk/rest-api/``). Credentials travel as HTTP basic auth in a
header, never in a URL, so they do not reach logs or error messages.
"""

from __future__ import annotations

import base64
import logging
from types import TracebackType
from typing import Any

import aiohttp

from voxtra.ari import resources
from voxtra.ari.errors import AriAuthError, AriConnectionError, AriNotEnabledError, http_error

log = logging.getLogger(__name__)

Params = dict[str, str | int | float | bool]


class AriClient:
    """REST access to one Asterisk's ARI at ``base_url`` (``http://host:port``).

    Operations are grouped by resource: ``client.channels.answer(id)``,
    ``client.bridges.create(...)``, ...; :meth:`request` reaches anything else.
    """

    def __init__(self, base_url: str, username: str, password: str,
                 timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
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

    def __repr__(self) -> str:
        return f"AriClient({self.base_url!r}, user={self.username!r})"

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def request(self, method: str, path: str, params: Params | None = None,
                      json: Any = None) -> Any:
        """Call ``/ari{path}``; return the decoded JSON body (None for 204).

        Raises :class:`AriAuthError`, :class:`AriConnectionError` or an
        :class:`AriHttpError` subclass.
        """
        query = {k: _query_value(v) for k, v in (params or {}).items()}
        url = f"{self.base_url}/ari{path}"
        try:
            async with self.session.request(method, url, params=query, json=json) as response:
                if response.status in (401, 403):
                    raise AriAuthError(
                        f"ARI at {self.base_url} refused user {self.username!r} (HTTP "
                        f"{response.status}): check the ARI user and password in ari.conf "
                        "and in Voxtra's settings"
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
        except aiohttp.ClientConnectionError as exc:
            raise AriConnectionError(f"cannot reach ARI at {self.base_url}: {exc}") from None
        except TimeoutError:
            raise AriConnectionError(f"ARI at {self.base_url} did not answer {method} {path} "
                                     "in time") from None


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
