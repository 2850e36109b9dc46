"""Asterisk REST Interface: typed REST client, typed events, resilient event stream."""

from voxtra.ari.client import AriClient
from voxtra.ari.errors import (
    ApplicationReplacedError,
    AriAuthError,
    AriConnectionError,
    AriError,
    AriHttpError,
    ConflictError,
    NotFoundError,
    UnprocessableError,
)
from voxtra.ari.events import Backoff, EventStream
from voxtra.ari.models import Channel, Event, parse_event

__all__ = [
    "ApplicationReplacedError",
    "AriAuthError",
    "AriClient",
    "AriConnectionError",
    "AriError",
    "AriHttpError",
    "Backoff",
    "Channel",
    "ConflictError",
    "Event",
    "EventStream",
    "NotFoundError",
    "UnprocessableError",
    "parse_event",
]
