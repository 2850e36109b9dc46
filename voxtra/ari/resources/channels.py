"""ARI ``/channels``: calls' channels, and what is done to them."""

from __future__ import annotations

import builtins

from voxtra.ari.models import Channel, LiveRecording, Playback, RTPstat
from voxtra.ari.resources.base import (
    Resource,
    get_variable,
    gone_ok,
    operation,
    play,
    query,
    record,
    variables_of,
)


class Channels(Resource):
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
        params = query(endpoint=endpoint, app=app, appArgs=app_args, context=context,
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
        params = query(endpoint=endpoint, app=app, appArgs=app_args, channelId=channel_id,
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
        params = query(reason=reason, reason_code=reason_code)
        return await gone_ok(self._call("DELETE", f"/channels/{channel_id}", params))

    @operation(("POST", "/channels/{channelId}/continue"))
    async def continue_in_dialplan(self, channel_id: str, context: str | None = None,
                                   extension: str | None = None, priority: int | None = None,
                                   label: str | None = None) -> None:
        await self._call("POST", f"/channels/{channel_id}/continue",
                         query(context=context, extension=extension, priority=priority,
                               label=label))

    @operation(("POST", "/channels/{channelId}/move"))
    async def move(self, channel_id: str, app: str, app_args: str | None = None) -> None:
        await self._call("POST", f"/channels/{channel_id}/move",
                         query(app=app, appArgs=app_args))

    @operation(("POST", "/channels/{channelId}/redirect"))
    async def redirect(self, channel_id: str, endpoint: str) -> None:
        """Blind-transfer the channel to ``endpoint`` (a SIP 302 before the answer, a REFER
        after): the channel's technology and the target, ``PJSIP/sip:user@host``."""
        await self._call("POST", f"/channels/{channel_id}/redirect", query(endpoint=endpoint))

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
                         query(dtmf=dtmf, before=before, between=between,
                               duration=duration, after=after))

    @operation(("POST", "/channels/{channelId}/mute"))
    async def mute(self, channel_id: str, direction: str = "both") -> None:
        await self._call("POST", f"/channels/{channel_id}/mute", query(direction=direction))

    @operation(("DELETE", "/channels/{channelId}/mute"))
    async def unmute(self, channel_id: str, direction: str = "both") -> None:
        await self._call("DELETE", f"/channels/{channel_id}/mute", query(direction=direction))

    @operation(("POST", "/channels/{channelId}/hold"))
    async def hold(self, channel_id: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/hold")

    @operation(("DELETE", "/channels/{channelId}/hold"))
    async def unhold(self, channel_id: str) -> None:
        await self._call("DELETE", f"/channels/{channel_id}/hold")

    @operation(("POST", "/channels/{channelId}/moh"))
    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self._call("POST", f"/channels/{channel_id}/moh", query(mohClass=moh_class))

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
        return await play(self, f"/channels/{channel_id}", media, playback_id, lang=lang,
                          offsetms=offsetms, skipms=skipms)

    @operation(("POST", "/channels/{channelId}/record"))
    async def record(self, channel_id: str, name: str, format: str = "wav", *,
                     max_duration: int | None = None, max_silence: int | None = None,
                     if_exists: str | None = None, beep: bool | None = None,
                     terminate_on: str | None = None) -> LiveRecording:
        """Record the channel into the stored recording ``name``."""
        return await record(self, f"/channels/{channel_id}", name, format, max_duration,
                            max_silence, if_exists, beep, terminate_on)

    @operation(("GET", "/channels/{channelId}/variable"))
    async def get_variable(self, channel_id: str, variable: str) -> str | None:
        """A channel variable or dialplan function value (``PJSIP_HEADER(read,X-Foo)``)."""
        return await get_variable(self, f"/channels/{channel_id}", variable)

    @operation(("POST", "/channels/{channelId}/variable"))
    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/variable",
                         query(variable=variable, value=value))

    @operation(("GET", "/channels/{channelId}/variables"))
    async def get_variables(self, channel_id: str, variables: builtins.list[str]) -> dict[str, str]:
        result = await self._call("GET", f"/channels/{channel_id}/variables",
                                  query(variables=",".join(variables)))
        return variables_of(result)

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
        params = query(app=app, spy=spy, whisper=whisper, appArgs=app_args)
        return Channel.model_validate(await self._call("POST", path, params))

    @operation(("POST", "/channels/{channelId}/dial"))
    async def dial(self, channel_id: str, caller: str | None = None,
                   timeout: int | None = None) -> None:
        await self._call("POST", f"/channels/{channel_id}/dial",
                         query(caller=caller, timeout=timeout))

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
        params = query(app=app, external_host=external_host, format=format,
                       channelId=channel_id, encapsulation=encapsulation,
                       transport=transport, connection_type=connection_type,
                       direction=direction, data=data, transport_data=transport_data)
        body = {"variables": variables} if variables else None
        return Channel.model_validate(
            await self._call("POST", "/channels/externalMedia", params, body))
