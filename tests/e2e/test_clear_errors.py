"""Setup mistakes end with a message that says what to do, never a traceback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from voxtra.app import VoxtraApp
from voxtra.ari.errors import AriAuthError, AriConnectionError
from voxtra.ari.events import EventStream
from voxtra.settings import VoxtraSettings
from voxtra.testing.voice import FakeVAD
from voxtra.voice.errors import ProviderError

VOXTRA = [sys.executable, "-m", "voxtra.cli"]


async def test_wrong_ari_password(voxtra_settings: VoxtraSettings) -> None:
    wrong = voxtra_settings.model_copy(update={"ari_password": SecretStr("not-the-password")})
    app = VoxtraApp(wrong)
    with pytest.raises(AriAuthError) as caught:
        await app.start()
    await app.stop()
    message = str(caught.value)
    assert "refused user 'voxtra'" in message and "password" in message
    assert "not-the-password" not in message


def test_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*VOXTRA, "sandbox", "up", "--name", "busy-port", "--ari-port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert result.returncode == 1
    assert f"port 127.0.0.1:{port} is already in use" in result.stderr
    assert "--ari-port" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_debootstrap(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path), VOXTRA_SANDBOX_ROOT=str(tmp_path / "root"))
    result = subprocess.run(
        [*VOXTRA, "sandbox", "up", "--name", "no-debootstrap", "--ari-port", "0"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert result.returncode == 1
    assert "apt-get install -y debootstrap" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "root").exists()


class BrokenVAD(FakeVAD):
    def load(self) -> None:
        raise ProviderError("broken-vad", "the model file is damaged", retryable=False)


async def refused(self: EventStream) -> None:
    raise AriConnectionError("the event websocket was refused")


@pytest.mark.parametrize("failure", ["a model", "the event stream"])
async def test_a_start_that_fails_leaves_nothing_running(
        voxtra_settings: VoxtraSettings, monkeypatch: pytest.MonkeyPatch,
        failure: str) -> None:
    """ARI answered, then a model failed to load, or the event stream was refused (after
    the watchdog started): ``start()`` raises, and no watchdog thread, task or HTTP
    session is left for the caller to clean up (a retrying caller would pile them up)."""
    threads = set(threading.enumerate())
    tasks = asyncio.all_tasks()
    if failure == "the event stream":
        monkeypatch.setattr(EventStream, "run", refused)
    app = VoxtraApp(voxtra_settings, vad=BrokenVAD() if failure == "a model" else None)
    with pytest.raises(ProviderError if failure == "a model" else AriConnectionError):
        await app.start()
    new = set(threading.enumerate()) - threads  # the loop's executor (to_thread) may stay
    assert [t.name for t in new if t.is_alive() and not t.name.startswith("asyncio_")] == []
    assert asyncio.all_tasks() - tasks == set()
    assert app.client._session is not None and app.client._session.closed
