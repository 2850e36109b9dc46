"""Voxtra: phone-call applications on Asterisk's REST Interface (ARI)."""

from voxtra.app import VoxtraApp
from voxtra.call import CallSession, CallState, Direction
from voxtra.call.dialing import Outcome, TransferFailed
from voxtra.errors import CallEndedError, PlaybackError, VoxtraError
from voxtra.settings import VoxtraSettings

__version__ = "0.1.0"

__all__ = ["CallEndedError", "CallSession", "CallState", "Direction", "Outcome",
           "PlaybackError", "TransferFailed", "VoxtraApp", "VoxtraError", "VoxtraSettings"]
