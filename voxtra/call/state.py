"""Where a call stands, which way it was placed, and how a dialled call ended up."""

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


class Outcome(StrEnum):
    """How a dialled call ended up (from the hangup cause when it was not answered)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"

    @classmethod
    def from_cause(cls, cause: int | None) -> Outcome:
        """Q.850 cause of an unanswered call: 17 user busy; 18, 19 no answer."""
        if cause == 17:
            return cls.BUSY
        if cause in (18, 19):
            return cls.NO_ANSWER
        return cls.FAILED
