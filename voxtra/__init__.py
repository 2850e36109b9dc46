"""Voxtra: phone-call applications on Asterisk's REST Interface (ARI)."""

from voxtra.app import VoxtraApp
from voxtra.call import CallSession, CallState, Direction
from voxtra.call.errors import CallEndedError, PlaybackError, TransferFailed
from voxtra.call.state import Outcome
from voxtra.errors import VoxtraError
from voxtra.settings import VoxtraSettings

__version__ = "0.1.0"

__all__ = ["CallEndedError", "CallSession", "CallState", "Direction", "Outcome",
           "PlaybackError", "TransferFailed", "VoxtraApp", "VoxtraError", "VoxtraSettings"]
