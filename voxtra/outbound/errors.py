"""Errors of outbound campaigns.

::

    VoxtraError
    └── CampaignError      a contact list, a rule or a store that cannot work
"""

from __future__ import annotations

from voxtra.errors import VoxtraError


class CampaignError(VoxtraError):
    """A campaign cannot run as configured: a contact without a number, an unknown time
    zone, a malformed contact list, a store that cannot be opened."""
