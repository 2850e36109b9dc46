"""ARI ``/playbacks`` and ``/recordings``: media played and recorded."""

from __future__ import annotations

import builtins

from voxtra.ari.models import LiveRecording, Playback, StoredRecording
from voxtra.ari.resources.base import Resource, gone_ok, operation, query


class Playbacks(Resource):
    @operation(("GET", "/playbacks/{playbackId}"))
    async def get(self, playback_id: str) -> Playback:
        return Playback.model_validate(await self._call("GET", f"/playbacks/{playback_id}"))

    @operation(("DELETE", "/playbacks/{playbackId}"))
    async def stop(self, playback_id: str) -> bool:
        return await gone_ok(self._call("DELETE", f"/playbacks/{playback_id}"))

    @operation(("POST", "/playbacks/{playbackId}/control"))
    async def control(self, playback_id: str, operation: str) -> None:
        """``operation``: restart, pause, unpause, reverse, forward."""
        await self._call("POST", f"/playbacks/{playback_id}/control",
                         query(operation=operation))


class Recordings(Resource):
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
        return await gone_ok(self._call("DELETE", f"/recordings/stored/{name}"))

    @operation(("GET", "/recordings/stored/{recordingName}/file"))
    async def download(self, name: str) -> bytes:
        """The stored recording's file, as Asterisk wrote it."""
        data = await self._call("GET", f"/recordings/stored/{name}/file")
        return data if isinstance(data, bytes) else b""

    @operation(("POST", "/recordings/stored/{recordingName}/copy"))
    async def copy_stored(self, name: str, destination: str) -> StoredRecording:
        return StoredRecording.model_validate(
            await self._call("POST", f"/recordings/stored/{name}/copy",
                             query(destinationRecordingName=destination)))

    @operation(("GET", "/recordings/live/{recordingName}"))
    async def get_live(self, name: str) -> LiveRecording:
        return LiveRecording.model_validate(await self._call("GET", f"/recordings/live/{name}"))

    @operation(("DELETE", "/recordings/live/{recordingName}"))
    async def cancel(self, name: str) -> bool:
        """Stop a live recording and throw its file away."""
        return await gone_ok(self._call("DELETE", f"/recordings/live/{name}"))

    @operation(("POST", "/recordings/live/{recordingName}/stop"))
    async def stop(self, name: str) -> bool:
        """Stop a live recording and keep it as a stored recording."""
        return await gone_ok(self._call("POST", f"/recordings/live/{name}/stop"))

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
