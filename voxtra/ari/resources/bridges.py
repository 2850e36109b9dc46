"""ARI ``/bridges``: mixing and holding bridges."""

from __future__ import annotations

import builtins

from voxtra.ari.models import Bridge, LiveRecording, Playback
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


class Bridges(Resource):
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
                                                      query(type=type, name=name)))

    @operation(("GET", "/bridges/{bridgeId}"))
    async def get(self, bridge_id: str) -> Bridge:
        return Bridge.model_validate(await self._call("GET", f"/bridges/{bridge_id}"))

    @operation(("DELETE", "/bridges/{bridgeId}"))
    async def destroy(self, bridge_id: str) -> bool:
        return await gone_ok(self._call("DELETE", f"/bridges/{bridge_id}"))

    @operation(("POST", "/bridges/{bridgeId}/addChannel"))
    async def add_channel(self, bridge_id: str, channel: str | builtins.list[str], *,
                          role: str | None = None, absorb_dtmf: bool | None = None,
                          mute: bool | None = None,
                          inhibit_connected_line_updates: bool | None = None) -> None:
        channels = ",".join(channel) if isinstance(channel, list) else channel
        await self._call("POST", f"/bridges/{bridge_id}/addChannel",
                         query(channel=channels, role=role, absorbDTMF=absorb_dtmf,
                               mute=mute,
                               inhibitConnectedLineUpdates=inhibit_connected_line_updates))

    @operation(("POST", "/bridges/{bridgeId}/removeChannel"))
    async def remove_channel(self, bridge_id: str, channel: str | builtins.list[str]) -> None:
        channels = ",".join(channel) if isinstance(channel, list) else channel
        await self._call("POST", f"/bridges/{bridge_id}/removeChannel",
                         query(channel=channels))

    @operation(("POST", "/bridges/{bridgeId}/moh"))
    async def start_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self._call("POST", f"/bridges/{bridge_id}/moh", query(mohClass=moh_class))

    @operation(("DELETE", "/bridges/{bridgeId}/moh"))
    async def stop_moh(self, bridge_id: str) -> None:
        await self._call("DELETE", f"/bridges/{bridge_id}/moh")

    @operation(("POST", "/bridges/{bridgeId}/play"),
               ("POST", "/bridges/{bridgeId}/play/{playbackId}"))
    async def play(self, bridge_id: str, media: str | builtins.list[str], *,
                   playback_id: str | None = None, lang: str | None = None,
                   offsetms: int | None = None, skipms: int | None = None) -> Playback:
        return await play(self, f"/bridges/{bridge_id}", media, playback_id, lang=lang,
                          offsetms=offsetms, skipms=skipms)

    @operation(("POST", "/bridges/{bridgeId}/record"))
    async def record(self, bridge_id: str, name: str, format: str = "wav", *,
                     max_duration: int | None = None, max_silence: int | None = None,
                     if_exists: str | None = None, beep: bool | None = None,
                     terminate_on: str | None = None) -> LiveRecording:
        return await record(self, f"/bridges/{bridge_id}", name, format, max_duration,
                            max_silence, if_exists, beep, terminate_on)

    @operation(("GET", "/bridges/{bridgeId}/variable"))
    async def get_variable(self, bridge_id: str, variable: str) -> str | None:
        return await get_variable(self, f"/bridges/{bridge_id}", variable)

    @operation(("POST", "/bridges/{bridgeId}/variable"))
    async def set_variable(self, bridge_id: str, variable: str, value: str) -> None:
        await self._call("POST", f"/bridges/{bridge_id}/variable",
                         query(variable=variable, value=value))

    @operation(("GET", "/bridges/{bridgeId}/variables"))
    async def get_variables(self, bridge_id: str, variables: builtins.list[str]) -> dict[str, str]:
        return variables_of(await self._call("GET", f"/bridges/{bridge_id}/variables",
                                             query(variables=",".join(variables))))

    @operation(("POST", "/bridges/{bridgeId}/variables"))
    async def set_variables(self, bridge_id: str, variables: dict[str, str]) -> None:
        await self._call("POST", f"/bridges/{bridge_id}/variables",
                         json={"variables": variables})
