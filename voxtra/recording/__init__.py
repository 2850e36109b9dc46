"""Where finished call recordings go: sinks, and what they are told about each file."""

from voxtra.recording.errors import RecordingSinkError
from voxtra.recording.sinks import GCSSink, LocalFileSink, RecordingMetadata, RecordingSink

__all__ = ["GCSSink", "LocalFileSink", "RecordingMetadata", "RecordingSink",
           "RecordingSinkError"]
