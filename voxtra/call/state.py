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
    #: The network had no room for the call (a SIP 503): worth trying again soon.
    CONGESTION = "congestion"
    FAILED = "failed"

    @classmethod
    def from_cause(cls, cause: int | None) -> Outcome:
        """Q.850 cause of an unanswered call: 17 user busy; 18, 19 no answer; 34 no
        circuit available (Asterisk's cause for a SIP 503), 42 congestion."""
        if cause == 17:
            return cls.BUSY
        if cause in (18, 19):
            return cls.NO_ANSWER
        if cause in (34, 42):
            return cls.CONGESTION
        return cls.FAILED
