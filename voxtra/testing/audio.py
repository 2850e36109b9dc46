"""Test audio: WAV files that SIPp can stream (μ-law, 8 kHz, mono)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from voxtra.media.g711 import Pcm, ulaw_encode


def tone(frequency: float, seconds: float, rate: int = 8000, amplitude: int = 8000) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def write_ulaw_wav(path: Path, pcm: Pcm, rate: int = 8000) -> Path:
    """A WAVE file with a G.711 μ-law data chunk (format tag 7), as SIPp's rtp_stream reads.

    SIPp skips the header and sends the ``data`` chunk as RTP payload (PT 0).
    """
    data = ulaw_encode(pcm)
    fmt = struct.pack("<HHIIHHH", 7, 1, rate, rate, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
