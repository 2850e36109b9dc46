"""The root of Voxtra's errors, and the errors that belong to no single layer."""

from __future__ import annotations


class VoxtraError(Exception):
    """Every error Voxtra raises on purpose derives from this."""


class CallEndedError(VoxtraError):
    """The call ended while a verb was waiting on it."""


class DialplanError(VoxtraError):
    """The dialplan location a call was to continue to does not exist in this Asterisk
    (continuing there would hang the call up)."""


class PlaybackError(VoxtraError):
    """Asterisk could not play a prompt (no such sound or recording, a failed URL)."""


class ProviderError(VoxtraError):
    """A speech or language provider failed.

    ``retryable`` says whether trying again (or another provider) can help: a
    timeout or a dropped connection can, a bad API key or a bad request cannot.
    """

    def __init__(self, provider: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.retryable = retryable
