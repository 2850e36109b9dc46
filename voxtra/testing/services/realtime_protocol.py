"""The OpenAI Realtime API's protocol as the local server speaks it: audio formats,
turn detection defaults, the session a connection starts with, ids and errors (the facts
are listed in :mod:`voxtra.testing.services.openai_realtime`)."""

from __future__ import annotations

import base64
import binascii
import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxtra.errors import VoxtraError
from voxtra.media.audio import Pcm
from voxtra.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

#: The audio formats of the protocol, with their sample rates.
RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
FREQUENCY = 440.0
VAD_FRAME_MS = 20
#: Loud audio needed before speech counts as started (a click is not speech).
MIN_SPEECH_MS = 100
MIN_COMMIT_MS = 100
#: Each turn detection type's settings, with their defaults (also what the fake's VAD
#: uses for a ``semantic_vad`` session).
VAD_DEFAULTS: dict[str, dict[str, Any]] = {
    "server_vad": {"threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
                   "create_response": True, "interrupt_response": True},
    "semantic_vad": {"eagerness": "auto", "create_response": True,
                     "interrupt_response": True}}
REPLACED_KEYS = ("format", "turn_detection")


@dataclass(frozen=True)
class ToolCallReply:
    """A response that calls the function ``name`` with ``arguments`` instead of speaking."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


Reply = str | ToolCallReply


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:22]}"


def default_session(model: str) -> dict[str, Any]:
    """The session a new connection starts with (as in ``session.created``)."""
    return {
        "type": "realtime", "object": "realtime.session", "id": new_id("sess"),
        "model": model, "output_modalities": ["audio"], "instructions": "",
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000},
                      "turn_detection": {"type": "server_vad", **VAD_DEFAULTS["server_vad"]},
                      "transcription": None},
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy",
                       "speed": 1.0}},
        "tools": [], "tool_choice": "auto"}


def decode_audio(data: bytes, format_type: str) -> Pcm:
    """Samples of ``data`` in a protocol audio format (at ``RATES[format_type]``)."""
    if format_type == "audio/pcmu":
        return ulaw_decode(data)
    if format_type == "audio/pcma":
        return alaw_decode(data)
    return np.frombuffer(data[:len(data) // 2 * 2], dtype="<i2").astype(np.int16)


def encode_audio(pcm: Pcm, format_type: str) -> bytes:
    """``pcm`` (at ``RATES[format_type]``) in a protocol audio format."""
    if format_type == "audio/pcmu":
        return ulaw_encode(pcm)
    if format_type == "audio/pcma":
        return alaw_encode(pcm)
    return pcm.astype("<i2").tobytes()


def merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict) and key not in REPLACED_KEYS:
            merge(current, value)
        else:
            target[key] = copy.deepcopy(value)




class ClientEventError(VoxtraError):
    """A client mistake, answered with an ``error`` event."""

    def __init__(self, message: str, code: str | None = None, param: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message, self.code, self.param, self.kind = message, code, param, kind


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError):
        return b""
