"""Errors of the media plane.

::

    VoxtraError
    └── RtpError   (also a ValueError) bytes that are not a valid RTP packet (RFC 3550)

Packets that fail are dropped and counted by the endpoint, never raised to a call.
"""

from __future__ import annotations

from voxtra.errors import VoxtraError


class RtpError(VoxtraError, ValueError):
    """The bytes are not a valid RTP packet; the message says which rule failed."""
