"""Test audio: WAV files that SIPp can stream (μ-law, 8 kHz, mono), and what the
capture of a call holds (tones, audible spans)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from voxtra.media.audio import Pcm
from voxtra.media.g711 import ulaw_decode, ulaw_encode
from voxtra.media.resample import resample
from voxtra.sandbox.capture import CapturedPacket
from voxtra.sandbox.sound import g722_codec
from voxtra.voice.tts import TTS


def tone(frequency: float, seconds: float, rate: int = 8000, amplitude: int = 8000) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def write_ulaw_wav(path: Path, pcm: Pcm, rate: int = 8000) -> Path:
    """A WAVE file with a G.711 μ-law data chunk (format tag 7), as SIPp's rtp_stream reads.

    SIPp 3.6.1 streams the file whole as PCMU (PT 0), 160 bytes a packet: the 58-byte
    header goes first, as 7.25 ms of noise before the audio.
    """
    data = ulaw_encode(pcm)
    fmt = struct.pack("<HHIIHHH", 7, 1, rate, rate, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def rms(pcm: Pcm) -> float:
    """Root mean square level (digital silence after G.711 is at most 8)."""
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


def dominant_frequency(pcm: Pcm, rate: int = 8000) -> float:
    """The strongest frequency in ``pcm`` (Hann-windowed FFT), in Hz."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


def tones(heard: Pcm, window: int = 800, rate: int = 8000) -> dict[int, int]:
    """The tones in ``heard``: dominant frequency (to 10 Hz) of each loud window
    (0.1 s at 8 kHz), and in how many windows it was."""
    found: dict[int, int] = {}
    for start in range(0, len(heard) - window, window):
        piece = heard[start:start + window]
        if np.abs(piece).max() > 1500:
            frequency = int(round(dominant_frequency(piece, rate) / 10) * 10)
            found[frequency] = found.get(frequency, 0) + 1
    return found


def best_correlation(reference: Pcm, received: Pcm, min_overlap: float = 1.5,
                     rate: int = 8000) -> float:
    """Normalised correlation of the two signals where they overlap at the best lag.

    The overlap must be at least ``min_overlap`` seconds (an AssertionError
    otherwise): the first moments of a call's audio can precede its media leg.
    """
    ref = reference.astype(np.float64)
    got = received.astype(np.float64)
    assert len(ref) and len(got), "no audio to compare"
    scores = np.correlate(got, ref, mode="full")
    lag = int(np.argmax(np.abs(scores))) - (len(ref) - 1)  # got[i + lag] ~ ref[i]
    start, end = max(0, -lag), min(len(ref), len(got) - lag)
    assert end - start >= min_overlap * rate, f"overlap of {end - start} samples only"
    a, b = got[start + lag:end + lag], ref[start:end]
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def audible_spans(captured: list[CapturedPacket], received: bool, *, level: float = 300.0,
                  gap: float = 0.3, shortest: float = 0.1) -> list[tuple[float, float]]:
    """When one direction of a captured call carried audible audio (μ-law or G.722):
    (start, end) capture times of each stretch, stretches closer than ``gap`` seconds
    joined and stretches shorter than ``shortest`` (a click) left out."""
    times = [time for time, pcm in decoded(captured, received) if rms(pcm) > level]
    spans: list[tuple[float, float]] = []
    for time in times:
        if spans and time - spans[-1][1] <= gap:
            spans[-1] = (spans[-1][0], time + 0.02)
        else:
            spans.append((time, time + 0.02))
    return [(start, end) for start, end in spans if end - start >= shortest]


def decoded(captured: list[CapturedPacket], received: bool) -> list[tuple[float, Pcm]]:
    """Each audio packet of one direction with its capture time, in order, decoded:
    μ-law (payload type 0) at 8 kHz, G.722 (9) at 16 kHz through one decoder fed the
    packets in sequence order (G.722 is adaptive: a packet decodes right only after
    those before it)."""
    packets = sorted((c for c in captured if c.received is received
                      and c.packet.payload_type in (0, 9)), key=lambda c: c.time)
    g722 = sorted((c for c in packets if c.packet.payload_type == 9),
                  key=lambda c: c.packet.sequence)
    by_packet = {}
    if g722:
        decoder = g722_codec()  # the G722 package, if installed
        for c in g722:
            by_packet[id(c)] = np.asarray(decoder.decode(c.packet.payload), dtype=np.int16)
    return [(c.time, by_packet[id(c)] if c.packet.payload_type == 9
             else ulaw_decode(c.packet.payload)) for c in packets]


def tone_packets(captured: Iterable[CapturedPacket], frequency: float,
                 tolerance: float = 60.0) -> list[CapturedPacket]:
    """The audible μ-law packets the caller received whose strongest frequency is
    ``frequency`` (a 20 ms frame resolves 50 Hz)."""
    found = []
    for c in captured:
        if not c.received or c.packet.payload_type != 0:
            continue
        pcm = ulaw_decode(c.packet.payload)
        if rms(pcm) > 300 and abs(dominant_frequency(pcm) - frequency) <= tolerance:
            found.append(c)
    return found


async def speech_wav(path: Path, tts: TTS, *parts: str | float) -> Path:
    """A μ-law 8 kHz WAV for SIPp to stream: each ``str`` part spoken by ``tts``, each
    ``float`` part that many seconds of silence. Returns ``path``."""
    pieces = []
    for part in parts:
        if isinstance(part, str):
            spoken = [pcm async for pcm in tts.synthesize(part)]
            pieces.append(resample(np.concatenate(spoken), tts.sample_rate, 8000))
        else:
            pieces.append(np.zeros(int(part * 8000), dtype=np.int16))
    return write_ulaw_wav(path, np.concatenate(pieces))
