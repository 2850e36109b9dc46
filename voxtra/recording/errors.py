"""Errors of recording.

::

    VoxtraError
    ├── RecordingError       (also a RuntimeError) Asterisk could not record, or lost the file
    └── RecordingSinkError   (also a RuntimeError) a sink gave up; the file is kept locally
"""

from __future__ import annotations

from pathlib import Path

from voxtra.errors import VoxtraError


class RecordingError(VoxtraError, RuntimeError):
    """Asterisk reported the recording failed, or its file never appeared."""


class RecordingSinkError(VoxtraError, RuntimeError):
    """A sink gave up; ``path`` still holds the recording."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(f"{message}; the recording is kept at {path}")
        self.path = path
