"""What every ARI resource class shares: the registry of implemented operations, the
request helper, and the helpers of operations that several resources have (play,
record, variables)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from voxtra.ari.errors import NotFoundError
from voxtra.ari.models import LiveRecording, Playback

if TYPE_CHECKING:
    from voxtra.ari.client import AriClient

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

#: The ARI operations this client implements, as ``(METHOD, swagger path)``.
OPERATIONS: set[tuple[str, str]] = set()

#: ARI operations left out on purpose, with the reason.
LEFT_OUT: dict[tuple[str, str], str] = {
    ("GET", "/events"): "the event websocket, see voxtra.ari.events",
    ("POST", "/events/claim"): "call broadcast claiming; no call-app use yet",
    ("POST", "/channels/{channelId}/transfer_progress"): "ARI-driven SIP REFER handling",
    ("POST", "/bridges/{bridgeId}/videoSource/{channelId}"): "video",
    ("DELETE", "/bridges/{bridgeId}/videoSource"): "video",
    ("GET", "/asterisk/config/dynamic/{configClass}/{objectType}/{id}"): "push configuration",
    ("PUT", "/asterisk/config/dynamic/{configClass}/{objectType}/{id}"): "push configuration",
    ("DELETE", "/asterisk/config/dynamic/{configClass}/{objectType}/{id}"):
        "push configuration",
    ("GET", "/asterisk/logging"): "Asterisk log channels",
    ("POST", "/asterisk/logging/{logChannelName}"): "Asterisk log channels",
    ("DELETE", "/asterisk/logging/{logChannelName}"): "Asterisk log channels",
    ("PUT", "/asterisk/logging/{logChannelName}/rotate"): "Asterisk log channels",
    ("PUT", "/endpoints/sendMessage"): "SIP MESSAGE text; not a call verb",
    ("PUT", "/endpoints/{tech}/{resource}/sendMessage"): "SIP MESSAGE text; not a call verb",
    ("POST", "/endpoints/refer"): "out-of-dialog REFER",
    ("POST", "/endpoints/{tech}/{resource}/refer"): "out-of-dialog REFER",
    ("GET", "/mailboxes"): "voicemail (MWI) state",
    ("GET", "/mailboxes/{mailboxName}"): "voicemail (MWI) state",
    ("PUT", "/mailboxes/{mailboxName}"): "voicemail (MWI) state",
    ("DELETE", "/mailboxes/{mailboxName}"): "voicemail (MWI) state",
}


def operation(*keys: tuple[str, str]) -> Callable[[F], F]:
    """Mark a method as the implementation of these ARI operations."""

    def register(method: F) -> F:
        OPERATIONS.update(keys)
        return method

    return register


def query(**values: Any) -> dict[str, str | int | float | bool]:
    """Query parameters without the unset (None) ones."""
    return {key: value for key, value in values.items() if value is not None}


async def gone_ok(request: Awaitable[Any]) -> bool:
    try:
        await request
    except NotFoundError:
        return False
    return True


async def play(resource: Resource, target: str, media: str | list[str],
                playback_id: str | None, **options: Any) -> Playback:
    """``POST {target}/play[/{playbackId}]`` for a channel or a bridge."""
    path = f"{target}/play" + (f"/{playback_id}" if playback_id else "")
    media = ",".join(media) if isinstance(media, list) else media
    return Playback.model_validate(await resource._call("POST", path,
                                                        query(media=media, **options)))


async def record(resource: Resource, target: str, name: str, format: str,
                  max_duration: int | None, max_silence: int | None, if_exists: str | None,
                  beep: bool | None, terminate_on: str | None) -> LiveRecording:
    """``POST {target}/record`` for a channel or a bridge."""
    params = query(name=name, format=format, maxDurationSeconds=max_duration,
                   maxSilenceSeconds=max_silence, ifExists=if_exists, beep=beep,
                   terminateOn=terminate_on)
    return LiveRecording.model_validate(await resource._call("POST", f"{target}/record", params))


async def get_variable(resource: Resource, target: str, variable: str) -> str | None:
    try:
        result = await resource._call("GET", f"{target}/variable", query(variable=variable))
    except NotFoundError:
        return None
    return str(result.get("value", "")) if result else None


class Resource:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def _call(self, method: str, path: str, params: dict[str, Any] | None = None,
                    json: Any = None) -> Any:
        return await self._client.request(method, path, params, json)


def variables_of(result: Any) -> dict[str, str]:
    if isinstance(result, dict) and isinstance(result.get("variables"), list):
        return {str(v.get("variable", v.get("name", ""))): str(v.get("value", ""))
                for v in result["variables"]}
    if isinstance(result, dict):
        return {str(k): str(v) for k, v in result.get("variables", result).items()}
    return {}
