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

from voxtra.ari.errors import AriAuthError, AriConnectionError, NotFoundError, http_error
from voxtra.ari.models import Channel

log = logging.getLogger(__name__)

Params = dict[str, str | int | float | bool]


class AriClient:
    """REST access to one Asterisk's ARI at ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str, username: str, password: str,
                 timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

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

    # asterisk ----------------------------------------------------------------

    async def asterisk_info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/asterisk/info")
        return result

    # channels ----------------------------------------------------------------

    async def get_channel(self, channel_id: str) -> Channel:
        return Channel.model_validate(await self.request("GET", f"/channels/{channel_id}"))

    async def list_channels(self) -> list[Channel]:
        return [Channel.model_validate(c) for c in await self.request("GET", "/channels")]

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> bool:
        """Hang up a channel; a channel that is already gone counts as success.

        Returns whether this request hung it up.
        """
        try:
            await self.request("DELETE", f"/channels/{channel_id}", {"reason": reason})
        except NotFoundError:
            return False
        return True

    async def play(self, channel_id: str, media: str, playback_id: str) -> None:
        """Start playing ``media`` (``sound:``, ``recording:``, ``tone:``, URL) with our own id."""
        await self.request("POST", f"/channels/{channel_id}/play/{playback_id}",
                           {"media": media})

    async def stop_playback(self, playback_id: str) -> bool:
        """Stop a playback; one that already finished counts as success."""
        try:
            await self.request("DELETE", f"/playbacks/{playback_id}")
        except NotFoundError:
            return False
        return True

    async def get_variable(self, channel_id: str, variable: str) -> str | None:
        """A channel variable or dialplan function value; None when unset."""
        try:
            result = await self.request("GET", f"/channels/{channel_id}/variable",
                                        {"variable": variable})
        except NotFoundError:
            return None
        return str(result.get("value", "")) if result else None


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
    return (await response.text())[:200] or response.reason or ""
