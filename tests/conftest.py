"""Suite-wide checks."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voxtra.ari.client import AriClient
from voxtra.ari.resources import OPERATIONS
from voxtra.sandbox.asterisk import INSTANCES
from voxtra.sandbox.postgres import ThrowawayPostgres
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.whisper import WhisperSTT


@pytest.fixture(scope="session")
def whisper() -> WhisperSTT:
    """The offline recogniser, loaded once for the test session."""
    stt = WhisperSTT()
    stt.load()
    return stt


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (Debian's server), for the session."""
    with ThrowawayPostgres() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def piper() -> PiperTTS:
    """The offline voice, loaded once for the test session."""
    tts = PiperTTS()
    tts.load()
    return tts


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests run only with VOXTRA_SLOW=1 (CI sets it); a local run leaves them out
    and says so."""
    if os.environ.get("VOXTRA_SLOW") == "1":
        return
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]


@pytest.fixture(autouse=True)
def _no_app_left_running() -> Iterator[None]:
    """A test stops every app it starts: no app's watchdog thread outlives it (one left
    running would watch the next tests' loop and report their blockages as its own)."""
    before = {t.ident for t in threading.enumerate() if t.name == "voxtra-watchdog"}
    yield
    left = [t for t in threading.enumerate()
            if t.name == "voxtra-watchdog" and t.ident not in before]
    assert not left, "an app was left running: stop it (async with app, or app.stop())"


#: The ARI requests made in this process during the run (method, path), counted.
ARI_REQUESTS: dict[tuple[str, str], int] = {}


@pytest.fixture(scope="session", autouse=True)
def _ari_requests_counted() -> Iterator[None]:
    """ARI coverage is measured by the requests the suite makes, not by declarations."""
    request = AriClient.request

    async def counted(self: AriClient, method: str, path: str, *args: Any,
                      **kwargs: Any) -> Any:
        ARI_REQUESTS[method, path] = ARI_REQUESTS.get((method, path), 0) + 1
        return await request(self, method, path, *args, **kwargs)

    AriClient.request = counted  # type: ignore[method-assign]
    yield
    AriClient.request = request  # type: ignore[method-assign]


def ari_operations_called() -> set[tuple[str, str]]:
    """The implemented ARI operations (method, path template) the run called."""
    patterns = {(method, re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path) + "$")):
                (method, path) for method, path in OPERATIONS}
    return {operation for (method, pattern), operation in patterns.items()
            if any(m == method and pattern.match(p) for m, p in ARI_REQUESTS)}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ARI_REQUESTS:
        return
    called = ari_operations_called()
    never = sorted(OPERATIONS - called, key=lambda op: (op[1], op[0]))
    terminalreporter.section("ARI coverage (requests made by this run)")
    terminalreporter.write_line(
        f"{len(called)} of {len(OPERATIONS)} implemented operations called, "
        f"{sum(ARI_REQUESTS.values())} requests")
    if never and len(called) > len(OPERATIONS) / 2:  # a whole run, not a few tests
        terminalreporter.write_line("never called: " + ", ".join(f"{m} {p}" for m, p in never))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a sandbox Asterisk started by this test session is still alive,
    or if the whole suite (CI: VOXTRA_SLOW=1, no arguments) left an implemented ARI
    operation uncalled."""
    whole_run = (os.environ.get("VOXTRA_SLOW") == "1"
                 and not session.config.invocation_params.args)
    never = OPERATIONS - ari_operations_called()
    if whole_run and never:
        print(f"\nARI operations no test called: {sorted(never)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
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
