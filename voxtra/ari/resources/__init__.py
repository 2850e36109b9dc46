"""ARI REST resources: one class per resource family, one method per operation.

Every method is registered with the ``(METHOD, path)`` of the ARI operation it
calls, as written in Asterisk's swagger files, so a test can compare the
coverage against the Asterisk at hand (:data:`OPERATIONS`, :data:`LEFT_OUT`).
Ids can be chosen by the caller (``channel_id``, ``bridge_id``, ``playback_id``,
``snoop_id``): register them before the request, since Asterisk may send the
resulting event before it answers the request. Methods that remove something
(hangup, destroy, stop, delete) treat "already gone" (404) as success and
return whether this call removed it.
"""

from voxtra.ari.resources.base import LEFT_OUT, OPERATIONS
from voxtra.ari.resources.bridges import Bridges
from voxtra.ari.resources.channels import Channels
from voxtra.ari.resources.recordings import Playbacks, Recordings
from voxtra.ari.resources.system import (
    Applications,
    Asterisk,
    DeviceStates,
    Endpoints,
    Events,
    Sounds,
)

__all__ = ["LEFT_OUT", "OPERATIONS", "Applications", "Asterisk", "Bridges", "Channels",
           "DeviceStates", "Endpoints", "Events", "Playbacks", "Recordings", "Sounds"]
