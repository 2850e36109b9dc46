"""Call the containerised voice agent from the host: audio must go both ways.

    python docker/call.py HOST SIP_PORT

SIPp dials extension 100 and, after the greeting, asks a question spoken with Piper;
the agent in the container must hear it (its Whisper transcribes it) and answer with the
opening hours, which the caller records and Whisper transcribes here. Exits 1 unless the
caller heard the answer ("... nine in the morning ...").
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from voxtra.media.resample import resample
from voxtra.sandbox.audio import rms, speech_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.whisper import WhisperSTT

QUESTION = "What time do you open on Saturday?"


async def main(host: str, port: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        question = await speech_wav(Path(tmp) / "question.wav", PiperTTS(), 4.5, QUESTION,
                                    7.0)
        result = await SipCaller(host, port).call(CallerScript(
            "100", audio=question, hangup_after=14, capture_audio=True))
    heard = result.heard()
    text = (await WhisperSTT().transcribe(resample(heard, 8000, 16000))).text if len(
        heard) else ""
    print(f"docker-ci: call answered={result.answered}, {len(result.rtp)} RTP packets, "
          f"{len(heard) / 8000:.1f} s heard (RMS {float(rms(heard)) if len(heard) else 0:.0f}); "
          f"the caller heard: {text!r}")
    answered = "morning" in text.lower() or "nine" in text.lower()
    return 0 if result.succeeded and result.answered and answered else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]))))
