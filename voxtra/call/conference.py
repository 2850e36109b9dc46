"""Conferences: named multi-party bridges that calls join and leave.

A conference is an ARI mixing bridge made when the first call joins and destroyed
when the last one leaves. Muting a participant mutes the audio coming *in* from its
channel (``POST /channels/{id}/mute?direction=in``): the others stop hearing it, it
still hears them. Announcements play to the whole bridge; a recording records the
whole bridge. Bridge playback and recording events name the bridge in their
``target_uri`` (``bridge:ID``), and the app hands them to the conference.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError
from voxtra.ari.model_base import Message
from voxtra.ari.models import PlaybackFinished, RecordingFailed, RecordingFinished
from voxtra.call.errors import ConferenceEndedError
from voxtra.call.transfer import destroy_bridge
from voxtra.recording.recorder import CallParty, Recorder
from voxtra.recording.sinks import RecordingMetadata, RecordingSink

if TYPE_CHECKING:
    from voxtra.call.session import CallSession

log = logging.getLogger(__name__)


class Conference:
    """A named conference of the app (:meth:`voxtra.app.VoxtraApp.conference`)."""

    def __init__(self, client: AriClient, name: str, recordings_dir: Path,
                 recording_sink: RecordingSink | None,
                 on_gone: Callable[[Conference], None]) -> None:
        self.name = name
        self.bridge_id = f"voxtra-conf-{uuid.uuid4().hex}"
        self._client = client
        self._created = False
        self._lock = asyncio.Lock()
        self._on_gone = on_gone
        #: The calls in the conference, by id.
        self.participants: dict[str, CallSession] = {}
        self.muted: set[str] = set()
        #: Resolves when the last participant has left (the conference is then over).
        self.emptied: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._playbacks: dict[str, asyncio.Future[None]] = {}
        self._recorder = Recorder(client, f"conference-{name}", recordings_dir,
                                  recording_sink, bridge_id=self.bridge_id)

    async def join(self, call: CallSession, *, muted: bool = False) -> None:
        """Put ``call`` in the conference (it leaves any other bridge and its audio
        verbs stop); ``muted`` participants are heard by nobody until unmuted."""
        if self.emptied.done():
            raise ConferenceEndedError(f"conference {self.name!r} is over")
        await call._release_audio()
        async with self._lock:
            if not self._created:
                await self._client.bridges.create("mixing", bridge_id=self.bridge_id,
                                                  name=f"conference-{self.name}")
                self._created = True
        self.participants[call.id] = call
        call.on_hangup(self._left)
        await self._client.bridges.add_channel(self.bridge_id, call.id)
        if muted:
            await self.mute(call)

    async def leave(self, call: CallSession) -> None:
        """Take ``call`` out of the conference (the call goes on, in the app)."""
        if self.participants.pop(call.id, None) is None:
            return
        try:
            await self._client.bridges.remove_channel(self.bridge_id, call.id)
        except AriError as exc:
            log.debug("conference %s: %s already out (%s)", self.name, call.id, exc)
        await self._check_empty()

    async def kick(self, call: CallSession) -> None:
        """Remove ``call`` from the conference and hang it up."""
        await self.leave(call)
        await call.hangup()

    async def mute(self, call: CallSession) -> None:
        await self._client.channels.mute(call.id, "in")
        self.muted.add(call.id)

    async def unmute(self, call: CallSession) -> None:
        await self._client.channels.unmute(call.id, "in")
        self.muted.discard(call.id)

    async def announce(self, media: str) -> bool:
        """Play ``media`` (an ARI media URI) to every participant; True once it has
        played to the end, False if the conference ended first."""
        playback_id = f"voxtra-pb-{uuid.uuid4().hex}"
        done = self._playbacks[playback_id] = asyncio.get_running_loop().create_future()
        try:
            await self._client.bridges.play(self.bridge_id, media, playback_id=playback_id)
            await asyncio.wait([done, self.emptied], return_when=asyncio.FIRST_COMPLETED)
            return done.done()
        finally:
            self._playbacks.pop(playback_id, None)

    async def record_start(self, name: str | None = None, fmt: str = "wav",
                           sink: RecordingSink | None = None) -> str:
        """Record the whole conference; delivered to ``sink`` (or the app's) when
        stopped or when the conference ends."""
        return await self._recorder.start(name, fmt, sink, None, False)

    async def record_stop(self, name: str | None = None) -> str | None:
        return await self._recorder.stop(name, self._party)

    @property
    def recordings(self) -> dict[str, RecordingMetadata]:
        """Metadata of the conference's recordings that reached their sink, by name."""
        return self._recorder.stored

    @property
    def _party(self) -> CallParty:
        return CallParty(f"conference:{self.name}", "", self.name)

    def deliver(self, event: Message) -> None:
        """An event about the conference's bridge (from the app's dispatcher)."""
        if isinstance(event, PlaybackFinished):
            done = self._playbacks.get(event.playback.id)
            if done is not None and not done.done():
                done.set_result(None)
        elif isinstance(event, RecordingFinished | RecordingFailed):
            self._recorder.on_event(event)

    async def _left(self, call: CallSession) -> None:
        """A participant's call ended."""
        if self.participants.pop(call.id, None) is not None:
            await self._check_empty()

    async def _check_empty(self) -> None:
        if self.participants or self.emptied.done():
            return
        await self._recorder.finish_all(self._party)
        await destroy_bridge(self._client, self.bridge_id)
        self.emptied.set_result(None)
        self._on_gone(self)

    async def close(self) -> None:
        """End the conference (the app stops): its bridge goes."""
        self.participants.clear()
        await self._check_empty()
