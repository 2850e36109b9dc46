"""One call: the :class:`CallSession` a handler drives, and the parts it hands its
verbs to (prompts, bridging, media, voice), each in a module of its own."""

from voxtra.call.session import CallSession
from voxtra.call.state import CallState, Direction

__all__ = ["CallSession", "CallState", "Direction"]
