"""Where a call stands, and which way it was placed."""

from __future__ import annotations

from enum import StrEnum


class CallState(StrEnum):
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    FAILED = "failed"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
