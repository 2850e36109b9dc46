"""Errors of the voice layer.

::

    VoxtraError
    ├── ProviderError             a speech or language provider failed (``retryable``)
    ├── ProviderConfigError       (also a ValueError) no such provider, or bad options
    └── VoiceNotConfiguredError   (also a RuntimeError) a verb lacks the provider it needs

A provider's failure during a call is reported as a ``VoiceError`` event, and raised
from the verb that needed it.
"""

from __future__ import annotations

from voxtra.errors import VoxtraError


class ProviderError(VoxtraError):
    """A speech or language provider failed.

    ``retryable`` says whether trying again (or another provider) can help: a
    timeout or a dropped connection can, a bad API key or a bad request cannot.
    """

    def __init__(self, provider: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.retryable = retryable


class ProviderConfigError(VoxtraError, ValueError):
    """A provider named in the settings does not exist or does not take its options."""


class VoiceNotConfiguredError(VoxtraError, RuntimeError):
    """A voice verb was used without the provider it needs."""
