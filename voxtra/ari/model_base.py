"""Base classes of the generated ARI models (see ``scripts/gen_ari_models.py``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AriModel(BaseModel):
    """Every ARI model keeps fields it does not declare, so a newer Asterisk never breaks it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Message(AriModel):
    """ARI's ``Message``: what arrives on the event websocket."""

    type: str
    asterisk_id: str | None = None

    @property
    def channel_id(self) -> str | None:
        """The channel this message is about, if any (events are ordered per channel).

        That is its ``channel``, or for playback and recording events the channel
        their ``target_uri`` (``channel:ID``) names.
        """
        channel = getattr(self, "channel", None)
        channel_id = getattr(channel, "id", None)
        if isinstance(channel_id, str):
            return channel_id
        media = getattr(self, "playback", None) or getattr(self, "recording", None)
        target = getattr(media, "target_uri", None)
        if isinstance(target, str) and target.startswith("channel:"):
            return target.removeprefix("channel:")
        return None


class Event(Message):
    """ARI's ``Event``; an unknown event type is parsed as this class."""

    application: str = ""
    timestamp: datetime | None = None
