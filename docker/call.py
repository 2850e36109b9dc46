"""Call the containerised app from the host and check the caller hears it.

    python docker/call.py HOST SIP_PORT

SIPp dials extension 100, sends silence, and records the RTP it gets back; the voice
agent answers with a spoken greeting, which must arrive as audio (not silence).
Exits 1 if the call failed or nothing was heard.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import numpy as np

from voxtra.testing.audio import rms, write_ulaw_wav
from voxtra.testing.sipp import CallerScript, SipCaller


async def main(host: str, port: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        silence = write_ulaw_wav(Path(tmp) / "silence.wav", np.zeros(8000 * 8, np.int16))
        result = await SipCaller(host, port).call(CallerScript(
            "100", audio=silence, hangup_after=8, capture_audio=True))
    heard = result.heard()
    loud = float(rms(heard)) if len(heard) else 0.0
    print(f"docker-ci: call answered={result.answered}, {len(result.rtp)} RTP packets "
          f"heard, {len(heard) / 8000:.1f} s of audio, RMS {loud:.0f}")
    return 0 if result.succeeded and result.answered and loud > 300 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]))))
