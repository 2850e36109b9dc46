"""Audio as the media plane carries it: PCM samples, chunks of them, and the wire
formats of ExternalMedia (ulaw, alaw, slin, slin16)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from voxtra.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

#: Mono 16-bit signed samples.
Pcm = npt.NDArray[np.int16]

#: Milliseconds of audio per RTP packet (what Asterisk sends on ExternalMedia).
FRAME_MS = 20


@dataclass(slots=True)
class AudioChunk:
    """PCM audio: int16 samples, mono, at ``sample_rate``; ``timestamp`` in seconds
    since the start of the stream (from RTP timestamps on receive)."""

    pcm: Pcm
    sample_rate: int
    timestamp: float = 0.0

    @property
    def duration(self) -> float:
        return len(self.pcm) / self.sample_rate


class AudioFormat(Enum):
    """An ExternalMedia ``format`` and how its payload maps to PCM.

    ``slin``/``slin16`` travel as 16-bit linear PCM in network byte order
    (RFC 3551 section 4.5.11, L16).
    """

    ULAW = ("ulaw", 8000, 1, 0)
    ALAW = ("alaw", 8000, 1, 8)
    SLIN = ("slin", 8000, 2, None)
    SLIN16 = ("slin16", 16000, 2, None)

    def __init__(self, asterisk_name: str, sample_rate: int, bytes_per_sample: int,
                 static_payload_type: int | None) -> None:
        self.asterisk_name = asterisk_name
        self.sample_rate = sample_rate
        self.bytes_per_sample = bytes_per_sample
        #: RFC 3551 static payload type, if the format has one.
        self.static_payload_type = static_payload_type
        self.samples_per_frame = sample_rate * FRAME_MS // 1000
        self.frame_bytes = self.samples_per_frame * bytes_per_sample

    @classmethod
    def for_payload_type(cls, payload_type: int) -> AudioFormat | None:
        """The format a static payload type stands for (0 PCMU, 8 PCMA)."""
        return next((m for m in cls if m.static_payload_type == payload_type), None)

    @classmethod
    def parse(cls, name: str) -> AudioFormat:
        for member in cls:
            if member.asterisk_name == name:
                return member
        raise ValueError(f"audio format {name!r}: expected one of "
                         f"{', '.join(m.asterisk_name for m in cls)}")

    def decode(self, payload: bytes) -> Pcm:
        if self is AudioFormat.ULAW:
            return ulaw_decode(payload)
        if self is AudioFormat.ALAW:
            return alaw_decode(payload)
        usable = len(payload) - len(payload) % 2
        return np.frombuffer(payload[:usable], dtype=">i2").astype(np.int16)

    def encode(self, pcm: Pcm) -> bytes:
        if self is AudioFormat.ULAW:
            return ulaw_encode(pcm)
        if self is AudioFormat.ALAW:
            return alaw_encode(pcm)
        return np.asarray(pcm, dtype=np.int16).astype(">i2").tobytes()

    def silence(self) -> bytes:
        return self.encode(np.zeros(self.samples_per_frame, dtype=np.int16))
