"""ARI REST resources: one class per resource family, one method per operation.

Every method is registered with the ``(METHOD, path)`` of the ARI operation it
calls, as written in Asterisk's swagger files, so a test can compare the
coverage against the Asterisk at hand (:data:`OPERATIONS`, :data:`LEFT_OUT`).
Ids can be chosen by the caller (``channel_id``, ``bridge_id``, ``playback_id``,
``snoop_id``): register them before the request, since Asterisk may send the
resulting event before it answers the request. Methods that remove something
(hangup, destroy, stop, delete) treat "already gone" (404) as success and
return whether this call removed it.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from voxtra.ari.errors import NotFoundError
from voxtra.ari.models import (
    Application,
    AsteriskInfo,
    Bridge,
    Channel,
    DeviceState,
    Endpoint,
    LiveRecording,
    Module,
    Playback,
    RTPstat,
    Sound,
    StoredRecording,
)

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


def _params(**values: Any) -> dict[str, str | int | float | bool]:
    """Query parameters without the unset (None) ones."""
    return {key: value for key, value in values.items() if value is not None}


async def _gone_ok(request: Awaitable[Any]) -> bool:
    try:
        await request
    except NotFoundError:
        return False
    return True


async def _play(resource: _Resource, target: str, media: str | list[str],
                playback_id: str | None, **options: Any) -> Playback:
    """``POST {target}/play[/{playbackId}]`` for a channel or a bridge."""
    path = f"{target}/play" + (f"/{playback_id}" if playback_id else "")
    media = ",".join(media) if isinstance(media, list) else media
    return Playback.model_validate(await resource._call("POST", path,
                                                        _params(media=media, **options)))


async def _record(resource: _Resource, target: str, name: str, format: str,
                  max_duration: int | None, max_silence: int | None, if_exists: str | None,
                  beep: bool | None, terminate_on: str | None) -> LiveRecording:
    """``POST {target}/record`` for a channel or a bridge."""
    params = _params(name=name, format=format, maxDurationSeconds=max_duration,
                     maxSilenceSeconds=max_silence, ifExists=if_exists, beep=beep,
                     terminateOn=terminate_on)
    return LiveRecording.model_validate(await resource._call("POST", f"{target}/record", params))


async def _get_variable(resource: _Resource, target: str, variable: str) -> str | None:
    try:
        result = await resource._call("GET", f"{target}/variable", _params(variable=variable))
    except NotFoundError:
        return None
    return str(result.get("value", "")) if result else None


class _Resource:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def _call(self, method: str, path: str, params: dict[str, Any] | None = None,
                    json: Any = None) -> Any:
        return await self._client.request(method, path, params, json)


class Asterisk(_Resource):
    @operation(("GET", "/asterisk/info"))
    async def info(self) -> AsteriskInfo:
        return AsteriskInfo.model_validate(await self._call("GET", "/asterisk/info"))

    @operation(("GET", "/asterisk/ping"))
    async def ping(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/asterisk/ping")
        return result

    @operation(("GET", "/asterisk/variable"))
    async def get_global_variable(self, variable: str) -> str:
        result = await self._call("GET", "/asterisk/variable", _params(variable=variable))
        return str(result.get("value", ""))

    @operation(("POST", "/asterisk/variable"))
    async def set_global_variable(self, variable: str, value: str) -> None:
        await self._call("POST", "/asterisk/variable", _params(variable=variable, value=value))

    @operation(("GET", "/asterisk/modules"))
    async def list_modules(self) -> builtins.list[Module]:
        return [Module.model_validate(m) for m in await self._call("GET", "/asterisk/modules")]

    @operation(("GET", "/asterisk/modules/{moduleName}"))
    async def get_module(self, name: str) -> Module:
        return Module.model_validate(await self._call("GET", f"/asterisk/modules/{name}"))

    @operation(("POST", "/asterisk/modules/{moduleName}"))
    async def load_module(self, name: str) -> None:
        await self._call("POST", f"/asterisk/modules/{name}")

    @operation(("DELETE", "/asterisk/modules/{moduleName}"))
    async def unload_module(self, name: str) -> None:
        await self._call("DELETE", f"/asterisk/modules/{name}")

    @operation(("PUT", "/asterisk/modules/{moduleName}"))
    async def reload_module(self, name: str) -> None:
        await self._call("PUT", f"/asterisk/modules/{name}")


class Channels(_Resource):
    @operation(("GET", "/channels"))
    async def list(self) -> builtins.list[Channel]:
        return [Channel.model_validate(c) for c in await self._call("GET", "/channels")]

    @operation(("POST", "/channels"), ("POST", "/channels/{channelId}"))
    async def originate(self, endpoint: str, *, channel_id: str | None = None,
                        app: str | None = None, app_args: str | None = None,
                        context: str | None = None, extension: str | None = None,
                        priority: int | None = None, label: str | None = None,
                        caller_id: str | None = None, timeout: int | None = None,
                        other_channel_id: str | None = None, originator: str | None = None,
                        formats: str | None = None,
                        variables: dict[str, str] | None = None) -> Channel:
        """Dial ``endpoint``; with ``app`` the answered channel enters that Stasis app.

        ``app`` and ``extension`` are exclusive (ARI refuses both).
        """
        path = f"/channels/{channel_id}" if channel_id else "/channels"
        params = _params(endpoint=endpoint, app=app, appArgs=app_args, context=context,
                         extension=extension, priority=priority, label=label,
                         callerId=caller_id, timeout=timeout, otherChannelId=other_channel_id,
                         originator=originator, formats=formats)
        body = {"variables": variables} if variables else None
        return Channel.model_validate(await self._call("POST", path, params, body))

    @operation(("POST", "/channels/create"))
    async def create(self, endpoint: str, app: str, *, channel_id: str | None = None,
                     app_args: str | None = None, other_channel_id: str | None = None,
                     originator: str | None = None, formats: str | None = None,
                     variables: dict[str, str] | None = None) -> Channel:
        """Create a channel without dialling it (dial it with :meth:`dial`)."""
        params = _params(endpoint=endpoint, app=app, appArgs=app_args, channelId=channel_id,
                         otherChannelId=other_channel_id, originator=originator,
                         formats=formats)
        body = {"variables": variables} if variables else None
        return Channel.model_validate(await self._call("POST", "/channels/create", params, body))

    @operation(("GET", "/channels/{channelId}"))
    async def get(self, channel_id: str) -> Channel:
        return Channel.model_validate(await self._call("GET", f"/channels/{channel_id}"))

    @operation(("DELETE", "/channels/{channelId}"))
    async def hangup(self, channel_id: str, reason: str | None = None,
                     reason_code: int | None = None) -> bool:
        """Hang up with a reason (normal, busy, congestion, no_answer, ...) or a Q.850 cause."""
        params = _params(reason=reason, reason_code=reason_code)
        return await _gone_ok(self._call("DELETE", f"/channels/{channel_id}", params))

    @operation(("POST", "/channels/{channelId}/continue"))
    async def continue_in_dialplan(self, channel_id: str, context: str | None = None,
                                   extension: str | None = None, priority: int | None = None,
                                   label: str | None = None) -> None:
        await self._call("POST", f"/channels/{channel_id}/continue",
                         _params(context=context, extension=extension, priority=priority,
                                 label=label))

    @operation(("POST", "/channels/{channelId}/move"))
    async def move(self, channel_id: str, app: str, app_args: str | None = None) -> None:
        await self._call("POST", f"/channels/{channel_id}/move",
                         _params(app=app, appArgs=app_args))

    @operation(("POST", "/channels/{channelId}/redirect"))
    async def redirect(self, channel_id: str, endpoint: str) -> None:
        """Blind-transfer the channel to ``endpoint`` (a SIP 302 before the answer, a REFER
        after): the channel's technology and the target, ``PJSIP/sip:user@host``."""
        await self._call("POST", f"/channels/{channel_id}/redirect", _params(endpoint=endpoint))

    @operation(("POST", "/channels/{channelId}/answer"))
    async def answer(self, channel_id: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/answer")

    @operation(("POST", "/channels/{channelId}/ring"))
    async def ring(self, channel_id: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/ring")

    @operation(("DELETE", "/channels/{channelId}/ring"))
    async def ring_stop(self, channel_id: str) -> None:
        await self._call("DELETE", f"/channels/{channel_id}/ring")

    @operation(("POST", "/channels/{channelId}/progress"))
    async def progress(self, channel_id: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/progress")

    @operation(("POST", "/channels/{channelId}/dtmf"))
    async def send_dtmf(self, channel_id: str, dtmf: str, before: int | None = None,
                        between: int | None = None, duration: int | None = None,
                        after: int | None = None) -> None:
        """Send DTMF digits (0-9, *, #, A-D; ',' pauses), timings in milliseconds."""
        await self._call("POST", f"/channels/{channel_id}/dtmf",
                         _params(dtmf=dtmf, before=before, between=between,
                                 duration=duration, after=after))

    @operation(("POST", "/channels/{channelId}/mute"))
    async def mute(self, channel_id: str, direction: str = "both") -> None:
        await self._call("POST", f"/channels/{channel_id}/mute", _params(direction=direction))

    @operation(("DELETE", "/channels/{channelId}/mute"))
    async def unmute(self, channel_id: str, direction: str = "both") -> None:
        await self._call("DELETE", f"/channels/{channel_id}/mute", _params(direction=direction))

    @operation(("POST", "/channels/{channelId}/hold"))
    async def hold(self, channel_id: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/hold")

    @operation(("DELETE", "/channels/{channelId}/hold"))
    async def unhold(self, channel_id: str) -> None:
        await self._call("DELETE", f"/channels/{channel_id}/hold")

    @operation(("POST", "/channels/{channelId}/moh"))
    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self._call("POST", f"/channels/{channel_id}/moh", _params(mohClass=moh_class))

    @operation(("DELETE", "/channels/{channelId}/moh"))
    async def stop_moh(self, channel_id: str) -> None:
        await self._call("DELETE", f"/channels/{channel_id}/moh")

    @operation(("POST", "/channels/{channelId}/silence"))
    async def start_silence(self, channel_id: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/silence")

    @operation(("DELETE", "/channels/{channelId}/silence"))
    async def stop_silence(self, channel_id: str) -> None:
        await self._call("DELETE", f"/channels/{channel_id}/silence")

    @operation(("POST", "/channels/{channelId}/play"),
               ("POST", "/channels/{channelId}/play/{playbackId}"))
    async def play(self, channel_id: str, media: str | builtins.list[str], *,
                   playback_id: str | None = None, lang: str | None = None,
                   offsetms: int | None = None, skipms: int | None = None) -> Playback:
        """Play media URIs (``sound:``, ``recording:``, ``tone:``, ``digits:``, URLs)."""
        return await _play(self, f"/channels/{channel_id}", media, playback_id, lang=lang,
                           offsetms=offsetms, skipms=skipms)

    @operation(("POST", "/channels/{channelId}/record"))
    async def record(self, channel_id: str, name: str, format: str = "wav", *,
                     max_duration: int | None = None, max_silence: int | None = None,
                     if_exists: str | None = None, beep: bool | None = None,
                     terminate_on: str | None = None) -> LiveRecording:
        """Record the channel into the stored recording ``name``."""
        return await _record(self, f"/channels/{channel_id}", name, format, max_duration,
                             max_silence, if_exists, beep, terminate_on)

    @operation(("GET", "/channels/{channelId}/variable"))
    async def get_variable(self, channel_id: str, variable: str) -> str | None:
        """A channel variable or dialplan function value (``PJSIP_HEADER(read,X-Foo)``)."""
        return await _get_variable(self, f"/channels/{channel_id}", variable)

    @operation(("POST", "/channels/{channelId}/variable"))
    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/variable",
                         _params(variable=variable, value=value))

    @operation(("GET", "/channels/{channelId}/variables"))
    async def get_variables(self, channel_id: str, variables: builtins.list[str]) -> dict[str, str]:
        result = await self._call("GET", f"/channels/{channel_id}/variables",
                                  _params(variables=",".join(variables)))
        return _variables(result)

    @operation(("POST", "/channels/{channelId}/variables"))
    async def set_variables(self, channel_id: str, variables: dict[str, str]) -> None:
        await self._call("POST", f"/channels/{channel_id}/variables",
                         json={"variables": variables})

    @operation(("POST", "/channels/{channelId}/snoop"),
               ("POST", "/channels/{channelId}/snoop/{snoopId}"))
    async def snoop(self, channel_id: str, app: str, *, spy: str | None = None,
                    whisper: str | None = None, app_args: str | None = None,
                    snoop_id: str | None = None) -> Channel:
        """A channel that hears (``spy``: in, out, both) or speaks into the channel."""
        path = f"/channels/{channel_id}/snoop" + (f"/{snoop_id}" if snoop_id else "")
        params = _params(app=app, spy=spy, whisper=whisper, appArgs=app_args)
        return Channel.model_validate(await self._call("POST", path, params))

    @operation(("POST", "/channels/{channelId}/dial"))
    async def dial(self, channel_id: str, caller: str | None = None,
                   timeout: int | None = None) -> None:
        await self._call("POST", f"/channels/{channel_id}/dial",
                         _params(caller=caller, timeout=timeout))

    @operation(("GET", "/channels/{channelId}/rtp_statistics"))
    async def rtp_statistics(self, channel_id: str) -> RTPstat:
        return RTPstat.model_validate(
            await self._call("GET", f"/channels/{channel_id}/rtp_statistics"))

    @operation(("POST", "/channels/externalMedia"))
    async def external_media(self, app: str, external_host: str, format: str = "ulaw", *,
                             channel_id: str | None = None, encapsulation: str | None = None,
                             transport: str | None = None, connection_type: str | None = None,
                             direction: str | None = None, data: str | None = None,
                             transport_data: str | None = None,
                             variables: dict[str, str] | None = None) -> Channel:
        """A media channel that exchanges the call's audio with ``external_host`` (RTP/UDP
        by default); its ``channelvars`` carry ``UNICASTRTP_LOCAL_ADDRESS``/``_PORT``."""
        params = _params(app=app, external_host=external_host, format=format,
                         channelId=channel_id, encapsulation=encapsulation,
                         transport=transport, connection_type=connection_type,
                         direction=direction, data=data, transport_data=transport_data)
        body = {"variables": variables} if variables else None
        return Channel.model_validate(
            await self._call("POST", "/channels/externalMedia", params, body))


class Bridges(_Resource):
    @operation(("GET", "/bridges"))
    async def list(self) -> builtins.list[Bridge]:
        return [Bridge.model_validate(b) for b in await self._call("GET", "/bridges")]

    @operation(("POST", "/bridges"), ("POST", "/bridges/{bridgeId}"))
    async def create(self, type: str = "mixing", *, bridge_id: str | None = None,
                     name: str | None = None) -> Bridge:
        """Create a bridge; ``type`` is a comma list (mixing, holding, dtmf_events,
        proxy_media, video_sfu, ...). DTMF events from bridged channels need ``dtmf_events``."""
        path = f"/bridges/{bridge_id}" if bridge_id else "/bridges"
        return Bridge.model_validate(await self._call("POST", path,
                                                      _params(type=type, name=name)))

    @operation(("GET", "/bridges/{bridgeId}"))
    async def get(self, bridge_id: str) -> Bridge:
        return Bridge.model_validate(await self._call("GET", f"/bridges/{bridge_id}"))

    @operation(("DELETE", "/bridges/{bridgeId}"))
    async def destroy(self, bridge_id: str) -> bool:
        return await _gone_ok(self._call("DELETE", f"/bridges/{bridge_id}"))

    @operation(("POST", "/bridges/{bridgeId}/addChannel"))
    async def add_channel(self, bridge_id: str, channel: str | builtins.list[str], *,
                          role: str | None = None, absorb_dtmf: bool | None = None,
                          mute: bool | None = None,
                          inhibit_connected_line_updates: bool | None = None) -> None:
        channels = ",".join(channel) if isinstance(channel, list) else channel
        await self._call("POST", f"/bridges/{bridge_id}/addChannel",
                         _params(channel=channels, role=role, absorbDTMF=absorb_dtmf,
                                 mute=mute,
                                 inhibitConnectedLineUpdates=inhibit_connected_line_updates))

    @operation(("POST", "/bridges/{bridgeId}/removeChannel"))
    async def remove_channel(self, bridge_id: str, channel: str | builtins.list[str]) -> None:
        channels = ",".join(channel) if isinstance(channel, list) else channel
        await self._call("POST", f"/bridges/{bridge_id}/removeChannel",
                         _params(channel=channels))

    @operation(("POST", "/bridges/{bridgeId}/moh"))
    async def start_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self._call("POST", f"/bridges/{bridge_id}/moh", _params(mohClass=moh_class))

    @operation(("DELETE", "/bridges/{bridgeId}/moh"))
    async def stop_moh(self, bridge_id: str) -> None:
        await self._call("DELETE", f"/bridges/{bridge_id}/moh")

    @operation(("POST", "/bridges/{bridgeId}/play"),
               ("POST", "/bridges/{bridgeId}/play/{playbackId}"))
    async def play(self, bridge_id: str, media: str | builtins.list[str], *,
                   playback_id: str | None = None, lang: str | None = None,
                   offsetms: int | None = None, skipms: int | None = None) -> Playback:
        return await _play(self, f"/bridges/{bridge_id}", media, playback_id, lang=lang,
                           offsetms=offsetms, skipms=skipms)

    @operation(("POST", "/bridges/{bridgeId}/record"))
    async def record(self, bridge_id: str, name: str, format: str = "wav", *,
                     max_duration: int | None = None, max_silence: int | None = None,
                     if_exists: str | None = None, beep: bool | None = None,
                     terminate_on: str | None = None) -> LiveRecording:
        return await _record(self, f"/bridges/{bridge_id}", name, format, max_duration,
                             max_silence, if_exists, beep, terminate_on)

    @operation(("GET", "/bridges/{bridgeId}/variable"))
    async def get_variable(self, bridge_id: str, variable: str) -> str | None:
        return await _get_variable(self, f"/bridges/{bridge_id}", variable)

    @operation(("POST", "/bridges/{bridgeId}/variable"))
    async def set_variable(self, bridge_id: str, variable: str, value: str) -> None:
        await self._call("POST", f"/bridges/{bridge_id}/variable",
                         _params(variable=variable, value=value))

    @operation(("GET", "/bridges/{bridgeId}/variables"))
    async def get_variables(self, bridge_id: str, variables: builtins.list[str]) -> dict[str, str]:
        return _variables(await self._call("GET", f"/bridges/{bridge_id}/variables",
                                           _params(variables=",".join(variables))))

    @operation(("POST", "/bridges/{bridgeId}/variables"))
    async def set_variables(self, bridge_id: str, variables: dict[str, str]) -> None:
        await self._call("POST", f"/bridges/{bridge_id}/variables",
                         json={"variables": variables})


class Playbacks(_Resource):
    @operation(("GET", "/playbacks/{playbackId}"))
    async def get(self, playback_id: str) -> Playback:
        return Playback.model_validate(await self._call("GET", f"/playbacks/{playback_id}"))

    @operation(("DELETE", "/playbacks/{playbackId}"))
    async def stop(self, playback_id: str) -> bool:
        return await _gone_ok(self._call("DELETE", f"/playbacks/{playback_id}"))

    @operation(("POST", "/playbacks/{playbackId}/control"))
    async def control(self, playback_id: str, operation: str) -> None:
        """``operation``: restart, pause, unpause, reverse, forward."""
        await self._call("POST", f"/playbacks/{playback_id}/control",
                         _params(operation=operation))


class Recordings(_Resource):
    @operation(("GET", "/recordings/stored"))
    async def list_stored(self) -> builtins.list[StoredRecording]:
        return [StoredRecording.model_validate(r)
                for r in await self._call("GET", "/recordings/stored")]

    @operation(("GET", "/recordings/stored/{recordingName}"))
    async def get_stored(self, name: str) -> StoredRecording:
        return StoredRecording.model_validate(
            await self._call("GET", f"/recordings/stored/{name}"))

    @operation(("DELETE", "/recordings/stored/{recordingName}"))
    async def delete_stored(self, name: str) -> bool:
        return await _gone_ok(self._call("DELETE", f"/recordings/stored/{name}"))

    @operation(("GET", "/recordings/stored/{recordingName}/file"))
    async def download(self, name: str) -> bytes:
        """The stored recording's file, as Asterisk wrote it."""
        data = await self._call("GET", f"/recordings/stored/{name}/file")
        return data if isinstance(data, bytes) else b""

    @operation(("POST", "/recordings/stored/{recordingName}/copy"))
    async def copy_stored(self, name: str, destination: str) -> StoredRecording:
        return StoredRecording.model_validate(
            await self._call("POST", f"/recordings/stored/{name}/copy",
                             _params(destinationRecordingName=destination)))

    @operation(("GET", "/recordings/live/{recordingName}"))
    async def get_live(self, name: str) -> LiveRecording:
        return LiveRecording.model_validate(await self._call("GET", f"/recordings/live/{name}"))

    @operation(("DELETE", "/recordings/live/{recordingName}"))
    async def cancel(self, name: str) -> bool:
        """Stop a live recording and throw its file away."""
        return await _gone_ok(self._call("DELETE", f"/recordings/live/{name}"))

    @operation(("POST", "/recordings/live/{recordingName}/stop"))
    async def stop(self, name: str) -> bool:
        """Stop a live recording and keep it as a stored recording."""
        return await _gone_ok(self._call("POST", f"/recordings/live/{name}/stop"))

    @operation(("POST", "/recordings/live/{recordingName}/pause"))
    async def pause(self, name: str) -> None:
        await self._call("POST", f"/recordings/live/{name}/pause")

    @operation(("DELETE", "/recordings/live/{recordingName}/pause"))
    async def unpause(self, name: str) -> None:
        await self._call("DELETE", f"/recordings/live/{name}/pause")

    @operation(("POST", "/recordings/live/{recordingName}/mute"))
    async def mute(self, name: str) -> None:
        await self._call("POST", f"/recordings/live/{name}/mute")

    @operation(("DELETE", "/recordings/live/{recordingName}/mute"))
    async def unmute(self, name: str) -> None:
        await self._call("DELETE", f"/recordings/live/{name}/mute")


class Endpoints(_Resource):
    @operation(("GET", "/endpoints"))
    async def list(self) -> builtins.list[Endpoint]:
        return [Endpoint.model_validate(e) for e in await self._call("GET", "/endpoints")]

    @operation(("GET", "/endpoints/{tech}"))
    async def list_by_tech(self, tech: str) -> builtins.list[Endpoint]:
        return [Endpoint.model_validate(e) for e in await self._call("GET", f"/endpoints/{tech}")]

    @operation(("GET", "/endpoints/{tech}/{resource}"))
    async def get(self, tech: str, resource: str) -> Endpoint:
        return Endpoint.model_validate(await self._call("GET", f"/endpoints/{tech}/{resource}"))


class Applications(_Resource):
    @operation(("GET", "/applications"))
    async def list(self) -> builtins.list[Application]:
        return [Application.model_validate(a) for a in await self._call("GET", "/applications")]

    @operation(("GET", "/applications/{applicationName}"))
    async def get(self, name: str) -> Application:
        return Application.model_validate(await self._call("GET", f"/applications/{name}"))

    @operation(("POST", "/applications/{applicationName}/subscription"))
    async def subscribe(self, name: str, event_source: str | builtins.list[str]) -> Application:
        """Subscribe to ``channel:ID``, ``bridge:ID``, ``endpoint:TECH/RES`` or
        ``deviceState:NAME`` sources."""
        sources = ",".join(event_source) if isinstance(event_source, list) else event_source
        return Application.model_validate(
            await self._call("POST", f"/applications/{name}/subscription",
                             _params(eventSource=sources)))

    @operation(("DELETE", "/applications/{applicationName}/subscription"))
    async def unsubscribe(self, name: str, event_source: str | builtins.list[str]) -> Application:
        sources = ",".join(event_source) if isinstance(event_source, list) else event_source
        return Application.model_validate(
            await self._call("DELETE", f"/applications/{name}/subscription",
                             _params(eventSource=sources)))

    @operation(("PUT", "/applications/{applicationName}/eventFilter"))
    async def filter(self, name: str, allowed: builtins.list[str] | None = None,
                     disallowed: builtins.list[str] | None = None) -> Application:
        """Only (or never) send these event types to the application."""
        body = {"allowed": [{"type": t} for t in allowed or []],
                "disallowed": [{"type": t} for t in disallowed or []]}
        return Application.model_validate(
            await self._call("PUT", f"/applications/{name}/eventFilter", json=body))


class Sounds(_Resource):
    @operation(("GET", "/sounds"))
    async def list(self, lang: str | None = None,
                   format: str | None = None) -> builtins.list[Sound]:
        return [Sound.model_validate(s)
                for s in await self._call("GET", "/sounds", _params(lang=lang, format=format))]

    @operation(("GET", "/sounds/{soundId}"))
    async def get(self, sound_id: str) -> Sound:
        return Sound.model_validate(await self._call("GET", f"/sounds/{sound_id}"))


class DeviceStates(_Resource):
    @operation(("GET", "/deviceStates"))
    async def list(self) -> builtins.list[DeviceState]:
        return [DeviceState.model_validate(d) for d in await self._call("GET", "/deviceStates")]

    @operation(("GET", "/deviceStates/{deviceName}"))
    async def get(self, name: str) -> DeviceState:
        return DeviceState.model_validate(await self._call("GET", f"/deviceStates/{name}"))

    @operation(("PUT", "/deviceStates/{deviceName}"))
    async def update(self, name: str, state: str) -> None:
        """Set a ``Stasis:NAME`` device state (NOT_INUSE, INUSE, BUSY, RINGING, ...)."""
        await self._call("PUT", f"/deviceStates/{name}", _params(deviceState=state))

    @operation(("DELETE", "/deviceStates/{deviceName}"))
    async def delete(self, name: str) -> bool:
        return await _gone_ok(self._call("DELETE", f"/deviceStates/{name}"))


class Events(_Resource):
    @operation(("POST", "/events/user/{eventName}"))
    async def user_event(self, name: str, application: str, source: str | None = None,
                         variables: dict[str, str] | None = None) -> None:
        """Raise a ``ChannelUserevent`` for the application (e.g. between apps)."""
        body = {"variables": variables} if variables else None
        await self._call("POST", f"/events/user/{name}",
                         _params(application=application, source=source), body)


def _variables(result: Any) -> dict[str, str]:
    if isinstance(result, dict) and isinstance(result.get("variables"), list):
        return {str(v.get("variable", v.get("name", ""))): str(v.get("value", ""))
                for v in result["variables"]}
    if isinstance(result, dict):
        return {str(k): str(v) for k, v in result.get("variables", result).items()}
    return {}
