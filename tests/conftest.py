"""Suite-wide checks."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
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


class _VoxtraErrors(logging.Handler):
    """Keeps the ERROR records Voxtra's loggers emit during one test."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_unexpected_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test fails if Voxtra logged an ERROR it did not expect (mark it
    ``expected_errors``): an exception in a handler or callback is only logged, and would
    otherwise pass unseen."""
    handler = _VoxtraErrors()
    logger = logging.getLogger("voxtra")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("expected_errors") is None:
        lines = "\n".join(f"{r.name}: {r.getMessage()}" for r in handler.records)
        pytest.fail(f"Voxtra logged errors this test did not expect:\n{lines}", pytrace=False)
