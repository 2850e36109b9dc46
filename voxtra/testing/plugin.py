"""pytest plugin: a real Asterisk for the test session and SIP callers for tests.

Installed with Voxtra (entry point ``pytest11``), so any project can write::

    async def test_my_ivr(voxtra_settings, sip_caller):
        app = VoxtraApp(voxtra_settings)
        ...
        result = await sip_caller.call(CallerScript("100", hangup_after=1))

The sandbox starts once per test session on free ports, with a fresh ARI
password, and is stopped at the end (no Asterisk process is left behind).

A handler that raises is only logged by the app (the call is hung up), so a test
could pass over it: every test fails if Voxtra, or asyncio (an exception no task
retrieved), logged an error during it, with the error's traceback in the report, or if
an app it ran as a process (:class:`~voxtra.testing.apps.AppProcess`) printed one.
A test that provokes errors on purpose is marked ``expected_errors``.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import random
import socket
import warnings
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from voxtra.sandbox.asterisk import AsteriskSandbox, SandboxOptions, SandboxState
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.apps import AppProcess

#: The loggers whose errors fail a test.
WATCHED_LOGGERS = ("voxtra", "asyncio")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Async tests run as they are: pytest-asyncio's auto mode, unless the project
    chose a mode itself. Its warning that ``asyncio_default_fixture_loop_scope`` is unset
    is left out (it runs before pytest-asyncio's own hook): the plugin's fixtures are
    synchronous, so the scope of the loop async fixtures run in is the project's choice,
    and pytest-asyncio's default stands until the project makes it."""
    ini = config.inipath.read_text() if config.inipath is not None else ""
    chosen = config.getoption("asyncio_mode", None) is not None or "asyncio_mode" in ini
    if importlib.util.find_spec("pytest_asyncio") is not None and not chosen:
        config.option.asyncio_mode = "auto"
    warnings.filterwarnings("ignore", message='The configuration option '
                            '"asyncio_default_fixture_loop_scope" is unset')
    config.addinivalue_line(
        "markers", "expected_errors: the test provokes errors that Voxtra logs (they do "
        "not fail it)")


class _LoggedErrors(logging.Handler):
    """The ERROR records the watched loggers emit during one test, and the error lines
    of the app processes it starts."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.reported = 0
        self.apps_before = len(AppProcess.started)
        self.app_lines_reported: dict[int, int] = {}
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def fail_on_new(self, item: pytest.Item) -> None:
        """Fail the test for the errors not reported yet, unless it expects errors."""
        new, self.reported = self.records[self.reported:], len(self.records)
        report = [self.format(record) for record in new]
        for index, app in enumerate(AppProcess.started[self.apps_before:]):
            lines = app.errors()
            report += [f"app process {app.process.pid}: {line}"
                       for line in lines[self.app_lines_reported.get(index, 0):]]
            self.app_lines_reported[index] = len(lines)
        if report and item.get_closest_marker("expected_errors") is None:
            pytest.fail("errors were logged during the test (mark it expected_errors if "
                        "it provokes them):\n\n" + "\n\n".join(report), pytrace=False)


_ERRORS = pytest.StashKey[_LoggedErrors]()


@pytest.fixture(autouse=True)
def voxtra_logged_errors(request: pytest.FixtureRequest) -> Iterator[list[logging.LogRecord]]:
    """The errors logged during the test (Voxtra's and asyncio's); the test fails on
    any unless it is marked ``expected_errors``, which lets it inspect them here."""
    handler = _LoggedErrors()
    request.node.stash[_ERRORS] = handler
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    handler.fail_on_new(request.node)  # logged while fixtures were torn down


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Errors logged while the test ran fail the test itself (not its teardown)."""
    result = yield
    handler = item.stash.get(_ERRORS, None)
    if handler is not None:
        handler.fail_on_new(item)
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without pytest-asyncio, say what to install instead of skipping async tests."""
    if importlib.util.find_spec("pytest_asyncio") is None and any(
            isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)
            for item in items):
        raise pytest.UsageError(
            "async tests need pytest-asyncio: pip install 'voxtra-asterisk[testing]'")


@pytest.fixture(scope="session")
def asterisk_sandbox() -> Iterator[AsteriskSandbox]:
    """A running sandbox Asterisk, shared by the whole test session."""
    rtp_start = 10000 + 2000 * random.randrange(10)
    options = SandboxOptions(
        name=f"pytest-{os.getpid()}",
        ari_port=free_port(socket.SOCK_STREAM),
        sip_port=free_port(socket.SOCK_DGRAM),
        rtp_start=rtp_start,
        rtp_end=rtp_start + 1999,
        queue_agent_uri=f"sip:agent@127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
    )
    sandbox = AsteriskSandbox(options)
    sandbox.start()
    try:
        yield sandbox
    finally:
        # VOXTRA_SANDBOX_KEEP=1 keeps the instance's logs and recordings for a look.
        sandbox.stop(keep_files=bool(os.environ.get("VOXTRA_SANDBOX_KEEP")))


@pytest.fixture(scope="session")
def plain_asterisk() -> Iterator[SandboxState]:
    """A second Asterisk as somebody else configured it: Debian's stock configuration
    with one endpoint (calls from 127.0.0.1) sending every number to
    ``Stasis(voxtra-plain)``; no Voxtra contexts, no spool/recording directory."""
    rtp_start = 30000 + 2 * random.randrange(500)
    options = SandboxOptions(
        name=f"pytest-plain-{os.getpid()}", profile="plain", app_name="voxtra-plain",
        ari_port=free_port(socket.SOCK_STREAM), sip_port=free_port(socket.SOCK_DGRAM),
        rtp_start=rtp_start, rtp_end=rtp_start + 999)
    sandbox = AsteriskSandbox(options)
    state = sandbox.start()
    try:
        yield state
    finally:
        sandbox.stop(keep_files=bool(os.environ.get("VOXTRA_SANDBOX_KEEP")))


@pytest.fixture(scope="session")
def sandbox_state(asterisk_sandbox: AsteriskSandbox) -> SandboxState:
    assert asterisk_sandbox.current is not None
    return asterisk_sandbox.current


@pytest.fixture
def voxtra_settings(sandbox_state: SandboxState) -> VoxtraSettings:
    """Settings that connect a VoxtraApp to the sandbox."""
    return VoxtraSettings(
        ari_url=sandbox_state.ari_url, ari_user=sandbox_state.ari_user,
        ari_password=SecretStr(sandbox_state.ari_password), app_name=sandbox_state.app_name,
        shutdown_grace=2.0,
    )


@pytest.fixture
def sip_caller(sandbox_state: SandboxState) -> SipCaller:
    """Places real SIP calls (SIPp) into the sandbox."""
    return SipCaller(sandbox_state.sip_host, sandbox_state.sip_port)
