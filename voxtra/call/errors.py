"""Errors of a call's verbs.

::

    VoxtraError
    ├── CallEndedError            the call ended while a verb waited on it
    ├── DialplanError             continue_in_dialplan: no such place in the dialplan
    ├── PlaybackError             Asterisk could not play the prompt
    ├── TransferFailed            the target did not answer: the caller is still here
    ├── TransferError             a consultation used after it ended
    ├── ConferenceEndedError      joining a conference that is over
    └── MediaPortsExhaustedError  (also an OSError) no UDP port left for a media leg
"""

from __future__ import annotations

from voxtra.call.state import Outcome
from voxtra.errors import VoxtraError


class CallEndedError(VoxtraError):
    """The call ended while a verb was waiting on it."""


class DialplanError(VoxtraError):
    """The dialplan location a call was to continue to does not exist in this Asterisk
    (continuing there would hang the call up)."""


class PlaybackError(VoxtraError):
    """Asterisk could not play a prompt (no such sound or recording, a failed URL)."""


class TransferFailed(VoxtraError):
    """The target did not answer; the caller is still in the app (apologise, retry,
    or send them elsewhere). ``outcome`` is busy, no answer or failed; ``cause`` the
    Q.850 hangup cause when Asterisk gave one."""

    def __init__(self, target: str, outcome: Outcome, cause: int | None = None,
                 detail: str = "") -> None:
        reason = {Outcome.BUSY: "is busy", Outcome.NO_ANSWER: "did not answer"}.get(
            outcome, "could not be reached")
        super().__init__(f"{target} {reason}"
                         + (f" (cause {cause})" if cause else "") + (f": {detail}" if detail
                                                                     else ""))
        self.target = target
        self.outcome = outcome
        self.cause = cause


class TransferError(VoxtraError):
    """A consultation (warm transfer) was used after it had ended: completed,
    cancelled, or the target hung up."""


class ConferenceEndedError(VoxtraError):
    """The conference is over (its last participant left): it takes no one else."""


class MediaPortsExhaustedError(VoxtraError, OSError):
    """No port of the configured RTP range is free."""
