"""Suite-wide checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voxtra.testing.sandbox import INSTANCES
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.whisper import WhisperSTT


@pytest.fixture(scope="session")
def whisper() -> WhisperSTT:
    """The offline recogniser, loaded once for the test session."""
    stt = WhisperSTT()
    stt.load()
    return stt


@pytest.fixture(scope="session")
def piper() -> PiperTTS:
    """The offline voice, loaded once for the test session."""
    tts = PiperTTS()
    tts.load()
    return tts


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a sandbox Asterisk started by this test session is still alive."""
    marker = f"{INSTANCES}/pytest-{os.getpid()}/".encode()
    leftovers = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes():
                leftovers.append(proc.name)
        except OSError:
            continue
    if leftovers:
        print(f"\nsandbox Asterisk processes left behind: {leftovers}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
