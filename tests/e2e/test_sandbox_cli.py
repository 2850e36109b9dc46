"""``voxtra sandbox`` as a developer uses it: the ARI password stays the same across
restarts, so an app connected to the sandbox reconnects instead of being refused."""

from __future__ import annotations

import socket
import uuid

import pytest

from voxtra.cli import main
from voxtra.testing import rootfs
from voxtra.testing.sipp import free_port


def env_of(name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    capsys.readouterr()
    assert main(["sandbox", "env", "--name", name]) == 0
    lines = capsys.readouterr().out.splitlines()
    return dict(line.removeprefix("export ").split("=", 1) for line in lines)


def test_a_restarted_sandbox_keeps_its_ari_password(capsys: pytest.CaptureFixture[str]) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    ports = ["--ari-port", str(free_port(socket.SOCK_STREAM)),
             "--sip-port", str(free_port(socket.SOCK_DGRAM))]
    try:
        assert main(["sandbox", "up", "--name", name, *ports]) == 0
        first = env_of(name, capsys)["VOXTRA_ARI_PASSWORD"]
        assert main(["sandbox", "down", "--name", name]) == 0
        assert main(["sandbox", "up", "--name", name, *ports]) == 0
        again = env_of(name, capsys)["VOXTRA_ARI_PASSWORD"]
    finally:
        main(["sandbox", "down", "--name", name])
        (rootfs.default_root().parent / f"sandbox-{name}.password").unlink(missing_ok=True)
    assert len(first) > 20 and again == first
