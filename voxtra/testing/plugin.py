"""pytest plugin: a real Asterisk for the test session and SIP callers for tests.

Installed with Voxtra (entry point ``pytest11``), so any project can write::

    async def test_my_ivr(voxtra_settings, sip_caller):
        app = VoxtraApp(voxtra_settings)
        ...
        result = await sip_caller.call(CallerScript("100", hangup_after=1))

The sandbox starts once per test session on free ports, with a fresh ARI
password, and is stopped at the end (no Asterisk process is left behind).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import random
import socket
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from voxtra.settings import VoxtraSettings
from voxtra.testing.sandbox import AsteriskSandbox, SandboxOptions, SandboxState
from voxtra.testing.sipp import SipCaller, free_port


def pytest_configure(config: pytest.Config) -> None:
    """Async tests run as they are: pytest-asyncio's auto mode, unless the project
    chose a mode itself."""
    chosen = config.getoption("asyncio_mode", None) is not None or (
        config.inipath is not None and "asyncio_mode" in config.inipath.read_text())
    if importlib.util.find_spec("pytest_asyncio") is not None and not chosen:
        config.option.asyncio_mode = "auto"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without pytest-asyncio, say what to install instead of skipping async tests."""
    if importlib.util.find_spec("pytest_asyncio") is None and any(
            isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)
            for item in items):
        raise pytest.UsageError("async tests need pytest-asyncio: pip install 'voxtra[testing]'")


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
