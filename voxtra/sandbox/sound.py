"""Sound files and the tools that make test audio: WAVE (16-bit PCM or μ-law) and raw
G.722 files, sox as a filter, and where a piece of audio is audible."""

from __future__ import annotations

import importlib
import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voxtra.media.audio import Pcm
from voxtra.media.g711 import ulaw_decode
from voxtra.sandbox.errors import TelephoneAudioError

Signal = npt.NDArray[np.float64]

#: A piece is audible where its 10 ms frames are within this many dB of its loudest.
_AUDIBLE_RANGE_DB = 40.0


def write_wav(path: Path, pcm: Pcm, rate: int) -> Path:
    """A 16-bit PCM mono WAVE file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[Pcm, int]:
    """A mono WAVE file as int16 PCM and its rate: 16-bit PCM, or G.711 μ-law (format
    tag 7, as :func:`voxtra.sandbox.audio.write_ulaw_wav` writes)."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a WAVE file")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        name, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        chunks[name] = data[offset + 8:offset + 8 + size]
        offset += 8 + size + size % 2
    fmt = chunks[b"fmt "]
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels != 1 or (tag, bits) not in ((1, 16), (7, 8)):
        raise ValueError(f"{path}: format {tag}, {bits} bits, {channels} channels; "
                         "mono 16-bit PCM or μ-law expected")
    if tag == 7:
        return ulaw_decode(chunks[b"data"]), rate
    return np.frombuffer(chunks[b"data"], dtype="<i2").astype(np.int16), rate


def write_g722(path: Path, pcm: Pcm) -> Path:
    """16 kHz ``pcm`` as raw G.722 at 64 kbit/s (no header): 160 bytes per 20 ms, what
    SIPp's ``rtp_stream`` sends as payload type 9 (``rtp_stream="FILE,1,9"``)."""
    path.write_bytes(g722_codec().encode(np.ascontiguousarray(pcm, dtype=np.int16)))
    return path


def read_g722(path: Path) -> Pcm:
    """A raw 64 kbit/s G.722 file decoded to 16 kHz int16 PCM."""
    return np.asarray(g722_codec().decode(path.read_bytes()), dtype=np.int16)


def g722_codec() -> Any:
    """A 16 kHz, 64 kbit/s G.722 codec (the G722 package, bit-exact to the ITU's); it
    keeps its state from one call to the next, as a stream's decoder must."""
    try:
        module = importlib.import_module("G722")
    except ImportError as exc:
        raise TelephoneAudioError("G.722 needs the G722 package (pip install G722)") from exc
    return module.G722(16000, 64000)


def extent(pcm: Pcm, rate: int) -> tuple[float, float] | None:
    """Where ``pcm`` is audible: (start, end) in seconds, from the first to the last
    10 ms frame within 40 dB of its loudest; None if it is all silence."""
    frame = rate // 100
    energy = np.mean(framed(pcm.astype(np.float64), frame) ** 2, axis=1)
    if not len(energy) or energy.max() <= 0:
        return None
    loud = np.flatnonzero(energy >= energy.max() * 10 ** (-_AUDIBLE_RANGE_DB / 10))
    return loud[0] * frame / rate, min(len(pcm), (loud[-1] + 1) * frame) / rate


def trim(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` without its silent head and tail (see :func:`extent`), so a piece placed
    at a time starts sounding then."""
    found = extent(pcm, rate)
    if found is None:
        return pcm[:0]
    return pcm[round(found[0] * rate):round(found[1] * rate)]


def framed(signal: Signal, size: int) -> Signal:
    padded = np.concatenate([signal, np.zeros(-len(signal) % size)])
    return padded.reshape(-1, size)


def clip(signal: Signal) -> Pcm:
    return np.clip(np.rint(signal), -32768, 32767).astype(np.int16)


def sox(pcm: Pcm, rate: int, effects: list[str]) -> tuple[Pcm, int]:
    """``pcm`` through sox ``effects``, no dither (deterministic), guarded against
    clipping."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_wav(source, pcm, rate)
        run_tool(["sox", "-D", "-G", "-q", str(source), str(target), *effects])
        return read_wav(target)


def run_tool(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise TelephoneAudioError(f"{command[0]} is not installed (Debian: apt-get install "
                                  f"{command[0]})")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TelephoneAudioError(f"{' '.join(command[:3])}... failed: {done.stderr.strip()}")
