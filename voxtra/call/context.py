"""What an app gives each of its calls: one :class:`CallContext` instead of a long
list of constructor arguments, and the bridge registry the calls share."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError
from voxtra.ari.legs import OwnLegs
from voxtra.call.media import MediaConfig
from voxtra.recording.sinks import RecordingSink
from voxtra.voice.pipeline import Providers
from voxtra.voice.settings import VoiceSettings

if TYPE_CHECKING:
    from voxtra.call.session import CallSession

log = logging.getLogger(__name__)


class BridgeRegistry:
    """Bridges that calls of one app share; a bridge is destroyed when its last call ends."""

    def __init__(self, client: AriClient) -> None:
        self._client = client
        self._members: dict[str, set[str]] = {}

    def join(self, bridge_id: str, *channel_ids: str) -> None:
        self._members.setdefault(bridge_id, set()).update(channel_ids)

    def of(self, channel_id: str) -> list[str]:
        return [b for b, members in self._members.items() if channel_id in members]

    async def leave(self, channel_id: str) -> None:
        for bridge_id in self.of(channel_id):
            members = self._members[bridge_id]
            members.discard(channel_id)
            if not members:
                del self._members[bridge_id]
                try:
                    await self._client.bridges.destroy(bridge_id)
                except AriError as exc:
                    log.warning("could not destroy bridge %s: %s", bridge_id, exc)

    @property
    def active(self) -> set[str]:
        return set(self._members)


@dataclass(frozen=True)
class VoiceConfig:
    """What a call's voice verbs use: the app's shared providers and voice settings."""

    providers: Providers = field(default_factory=Providers)
    settings: VoiceSettings = field(default_factory=VoiceSettings)


@dataclass(frozen=True)
class CallContext:
    """The app's side of every call: its ARI client and Stasis application, what the
    calls share (bridges, the app's own legs), and how media, voice and recordings go."""

    client: AriClient
    app_name: str
    bridges: BridgeRegistry
    own_legs: OwnLegs = field(default_factory=OwnLegs)
    media: MediaConfig = field(default_factory=MediaConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    recordings_dir: Path = Path("recordings")
    recording_sink: RecordingSink | None = None
    #: The app's ``originate`` (``call.originate`` is the same operation).
    originate: Callable[..., Awaitable[CallSession]] | None = None
