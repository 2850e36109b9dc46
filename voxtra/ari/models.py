"""Typed ARI resources and events (pydantic v2), after Asterisk's ``events.json``.

Every model keeps fields it does not declare (``extra="allow"``), so a newer
Asterisk that adds fields or event types never breaks parsing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AriModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CallerId(AriModel):
    name: str = ""
    number: str = ""


class DialplanCEP(AriModel):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(AriModel):
    """A channel, as in ARI's ``Channel`` model."""

    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = Field(default_factory=CallerId)
    connected: CallerId = Field(default_factory=CallerId)
    accountcode: str = ""
    dialplan: DialplanCEP = Field(default_factory=DialplanCEP)
    creationtime: datetime | None = None
    language: str = ""
    channelvars: dict[str, Any] | None = None


class Bridge(AriModel):
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    name: str = ""
    channels: list[str] = Field(default_factory=list)


class Playback(AriModel):
    id: str
    media_uri: str = ""
    target_uri: str = ""
    language: str = ""
    state: str = ""


class Event(AriModel):
    """Any ARI event; subclasses add the fields of known event types."""

    type: str
    application: str = ""
    timestamp: datetime | None = None
    asterisk_id: str | None = None

    @property
    def channel_id(self) -> str | None:
        """The id of the channel this event is about, if any (used for ordering)."""
        channel = getattr(self, "channel", None)
        return channel.id if isinstance(channel, Channel) else None


class StasisStart(Event):
    channel: Channel
    args: list[str] = Field(default_factory=list)
    replace_channel: Channel | None = None


class StasisEnd(Event):
    channel: Channel


class ChannelDestroyed(Event):
    channel: Channel
    cause: int = 0
    cause_txt: str = ""


class ChannelStateChange(Event):
    channel: Channel


class ChannelHangupRequest(Event):
    channel: Channel
    cause: int | None = None
    soft: bool | None = None


class ChannelDtmfReceived(Event):
    channel: Channel
    digit: str
    duration_ms: int = 0


class PlaybackStarted(Event):
    playback: Playback


class PlaybackFinished(Event):
    playback: Playback


class ApplicationReplaced(Event):
    pass


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (StasisStart, StasisEnd, ChannelDestroyed, ChannelStateChange,
                ChannelHangupRequest, ChannelDtmfReceived, PlaybackStarted, PlaybackFinished,
                ApplicationReplaced)
}


def parse_event(data: dict[str, Any]) -> Event:
    """The typed event for ``data``; unknown types become a plain :class:`Event`.

    Raises pydantic's ``ValidationError`` when a known type misses a required field.
    """
    cls = EVENT_TYPES.get(str(data.get("type")), Event)
    return cls.model_validate(data)
