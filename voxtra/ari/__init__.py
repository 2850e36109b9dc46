"""Asterisk REST Interface: typed REST client, typed events, resilient event stream."""

from voxtra.ari.client import AriClient
from voxtra.ari.errors import (
    ApplicationReplacedError,
    AriAuthError,
    AriConnectionError,
    AriError,
    AriHttpError,
    AriTlsError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableError,
)
from voxtra.ari.events import EventStream, parse_event
from voxtra.ari.model_base import Event, Message
from voxtra.ari.models import Channel

__all__ = [
    "ApplicationReplacedError",
    "AriAuthError",
    "AriClient",
    "AriConnectionError",
    "AriError",
    "AriHttpError",
    "AriTlsError",
    "BadRequestError",
    "Channel",
    "ConflictError",
    "Event",
    "EventStream",
    "Message",
    "NotFoundError",
    "UnprocessableError",
    "parse_event",
]
