"""ARI ``/asterisk``, ``/endpoints``, ``/applications``, ``/sounds``, ``/deviceStates``
and ``/events``: the rest of the REST interface."""

from __future__ import annotations

import builtins
from typing import Any

from voxtra.ari.models import Application, AsteriskInfo, DeviceState, Endpoint, Module, Sound
from voxtra.ari.resources.base import Resource, gone_ok, operation, query


class Asterisk(Resource):
    @operation(("GET", "/asterisk/info"))
    async def info(self) -> AsteriskInfo:
        return AsteriskInfo.model_validate(await self._call("GET", "/asterisk/info"))

    @operation(("GET", "/asterisk/ping"))
    async def ping(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/asterisk/ping")
        return result

    @operation(("GET", "/asterisk/variable"))
    async def get_global_variable(self, variable: str) -> str:
        result = await self._call("GET", "/asterisk/variable", query(variable=variable))
        return str(result.get("value", ""))

    @operation(("POST", "/asterisk/variable"))
    async def set_global_variable(self, variable: str, value: str) -> None:
        await self._call("POST", "/asterisk/variable", query(variable=variable, value=value))

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


class Endpoints(Resource):
    @operation(("GET", "/endpoints"))
    async def list(self) -> builtins.list[Endpoint]:
        return [Endpoint.model_validate(e) for e in await self._call("GET", "/endpoints")]

    @operation(("GET", "/endpoints/{tech}"))
    async def list_by_tech(self, tech: str) -> builtins.list[Endpoint]:
        return [Endpoint.model_validate(e) for e in await self._call("GET", f"/endpoints/{tech}")]

    @operation(("GET", "/endpoints/{tech}/{resource}"))
    async def get(self, tech: str, resource: str) -> Endpoint:
        return Endpoint.model_validate(await self._call("GET", f"/endpoints/{tech}/{resource}"))


class Applications(Resource):
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
                             query(eventSource=sources)))

    @operation(("DELETE", "/applications/{applicationName}/subscription"))
    async def unsubscribe(self, name: str, event_source: str | builtins.list[str]) -> Application:
        sources = ",".join(event_source) if isinstance(event_source, list) else event_source
        return Application.model_validate(
            await self._call("DELETE", f"/applications/{name}/subscription",
                             query(eventSource=sources)))

    @operation(("PUT", "/applications/{applicationName}/eventFilter"))
    async def filter(self, name: str, allowed: builtins.list[str] | None = None,
                     disallowed: builtins.list[str] | None = None) -> Application:
        """Only (or never) send these event types to the application."""
        body = {"allowed": [{"type": t} for t in allowed or []],
                "disallowed": [{"type": t} for t in disallowed or []]}
        return Application.model_validate(
            await self._call("PUT", f"/applications/{name}/eventFilter", json=body))


class Sounds(Resource):
    @operation(("GET", "/sounds"))
    async def list(self, lang: str | None = None,
                   format: str | None = None) -> builtins.list[Sound]:
        return [Sound.model_validate(s)
                for s in await self._call("GET", "/sounds", query(lang=lang, format=format))]

    @operation(("GET", "/sounds/{soundId}"))
    async def get(self, sound_id: str) -> Sound:
        return Sound.model_validate(await self._call("GET", f"/sounds/{sound_id}"))


class DeviceStates(Resource):
    @operation(("GET", "/deviceStates"))
    async def list(self) -> builtins.list[DeviceState]:
        return [DeviceState.model_validate(d) for d in await self._call("GET", "/deviceStates")]

    @operation(("GET", "/deviceStates/{deviceName}"))
    async def get(self, name: str) -> DeviceState:
        return DeviceState.model_validate(await self._call("GET", f"/deviceStates/{name}"))

    @operation(("PUT", "/deviceStates/{deviceName}"))
    async def update(self, name: str, state: str) -> None:
        """Set a ``Stasis:NAME`` device state (NOT_INUSE, INUSE, BUSY, RINGING, ...)."""
        await self._call("PUT", f"/deviceStates/{name}", query(deviceState=state))

    @operation(("DELETE", "/deviceStates/{deviceName}"))
    async def delete(self, name: str) -> bool:
        return await gone_ok(self._call("DELETE", f"/deviceStates/{name}"))


class Events(Resource):
    @operation(("POST", "/events/user/{eventName}"))
    async def user_event(self, name: str, application: str, source: str | None = None,
                         variables: dict[str, str] | None = None) -> None:
        """Raise a ``ChannelUserevent`` for the application (e.g. between apps)."""
        body = {"variables": variables} if variables else None
        await self._call("POST", f"/events/user/{name}",
                         query(application=application, source=source), body)
