"""Text to speech with the ``espeak-ng`` program: robotic, but tiny, fast and always there.

Each piece of text runs one ``espeak-ng`` process; the text goes in on stdin (no
quoting, no option injection, no argument-length limit) and a WAV file comes
back on stdout. Written to a pipe, that WAV's size fields are placeholders, so
the header is parsed by hand and the data taken to the end of the output.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from collections.abc import AsyncIterator

import numpy as np

from voxtra.media.audio import Pcm
from voxtra.media.resample import resample
from voxtra.voice.errors import ProviderError
from voxtra.voice.tts import TTS

_INSTALL = "install it with: apt-get install espeak-ng"


class EspeakTTS(TTS):
    """``voice`` is an espeak-ng voice name (``espeak-ng --voices``); ``rate`` is in words
    per minute. Output is resampled to ``sample_rate`` if a voice speaks at another rate."""

    def __init__(self, voice: str = "en-us", rate: int = 160, *, binary: str = "espeak-ng",
                 sample_rate: int = 22050) -> None:
        self.voice = voice
        self.rate = rate
        self.binary = binary
        self.sample_rate = sample_rate

    async def synthesize(self, text: str) -> AsyncIterator[Pcm]:
        if not text.strip():
            return
        program = shutil.which(self.binary)
        if program is None:
            raise ProviderError("espeak-ng", f"{self.binary} not found: {_INSTALL}",
                                retryable=False)
        try:
            proc = await asyncio.create_subprocess_exec(
                program, "--stdout", "--stdin", "-v", self.voice, "-s", str(self.rate),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise ProviderError("espeak-ng", f"cannot run {program}: {exc}; {_INSTALL}",
                                retryable=False) from exc
        try:
            out, err = await proc.communicate(text.encode())
        finally:
            if proc.returncode is None:  # cancelled while it ran
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            message = err.decode(errors="replace").strip() or f"exit status {proc.returncode}"
            raise ProviderError("espeak-ng", message, retryable=False)
        rate, pcm = parse_wav(out)
        yield pcm if rate == self.sample_rate else resample(pcm, rate, self.sample_rate)


def parse_wav(data: bytes) -> tuple[int, Pcm]:
    """Sample rate and samples of a mono 16-bit WAV whose size fields may be wrong."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ProviderError("espeak-ng", "output is not a WAV file", retryable=False)
    position, rate = 12, None
    while position + 8 <= len(data):
        kind, size = struct.unpack_from("<4sI", data, position)
        body = position + 8
        if kind == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (fmt, channels, bits) != (1, 1, 16):
                raise ProviderError("espeak-ng", "output is not mono 16-bit PCM",
                                    retryable=False)
        elif kind == b"data" and rate is not None:
            end = min(body + size, len(data))
            end -= (end - body) % 2
            return rate, np.frombuffer(data[body:end], dtype="<i2").astype(np.int16)
        position = body + size + size % 2
    raise ProviderError("espeak-ng", "WAV output has no audio", retryable=False)
