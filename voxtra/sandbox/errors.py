"""Errors of the lab; each message says what to do about it::

    VoxtraError
    ├── SandboxError         (also a RuntimeError) the sandbox Asterisk cannot run
    ├── SippError            (also a RuntimeError) SIPp is missing or failed
    └── TelephoneAudioError  (also a RuntimeError) a tool that makes test audio failed
"""

from __future__ import annotations

from voxtra.errors import VoxtraError


class SandboxError(VoxtraError, RuntimeError):
    """The sandbox Asterisk cannot be built, started or stopped."""


class SippError(VoxtraError, RuntimeError):
    """SIPp is missing or could not run the scenario."""


class TelephoneAudioError(VoxtraError, RuntimeError):
    """A tool that makes test audio (sox, Flite, espeak-ng, Piper, G.722) is missing or
    failed."""
