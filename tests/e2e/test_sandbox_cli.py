"""``voxtra sandbox`` as a developer uses it: the ARI password stays the same across
restarts, so an app connected to the sandbox reconnects instead of being refused."""

from __future__ import annotations

import base64
import json
import re
import socket
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from voxtra.cli import main
from voxtra.sandbox import rootfs
from voxtra.sandbox.ports import free_port


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


def test_sandbox_status_env_and_down(capsys: pytest.CaptureFixture[str]) -> None:
    """README: "``voxtra sandbox up|down|status|env`` [...] ``env`` prints the
    ``VOXTRA_*`` variables that connect an app to it; ``down`` stops it by pid.
    Options: ``--name``, ``--ari-port``, ``--sip-port``."

    On an instance of this test's own name and ports. Evidence: ``status`` names the
    running Asterisk's pid (a live ``asterisk`` process) and its ports; the variables
    ``env`` prints are accepted by that Asterisk's ARI (``GET /ari/asterisk/info`` 200;
    a wrong password 401) and name the app the dialplan sends calls to; after ``down``
    the process is gone and the ARI port refuses connections, and ``status`` and ``env``
    say "not running" (exit 3)."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    ari_port, sip_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    ports = ["--ari-port", str(ari_port), "--sip-port", str(sip_port)]
    try:
        assert main(["sandbox", "up", "--name", name, *ports]) == 0
        capsys.readouterr()
        assert main(["sandbox", "status", "--name", name]) == 0
        status = capsys.readouterr().out
        env = env_of(name, capsys)
        pid = int(match.group(1)) if (match := re.search(r"pid (\d+)", status)) else 0
        running_process = Path(f"/proc/{pid}/comm").read_bytes() if pid else b""
        accepted = ari_status(env["VOXTRA_ARI_URL"], env["VOXTRA_ARI_USER"],
                              env["VOXTRA_ARI_PASSWORD"])
        refused = ari_status(env["VOXTRA_ARI_URL"], env["VOXTRA_ARI_USER"], "wrong-password")
        assert main(["sandbox", "down", "--name", name]) == 0
        down = capsys.readouterr().out
        after = [main(["sandbox", action, "--name", name]) for action in ("status", "env")]
        told = capsys.readouterr()
        assert main(["sandbox", "down", "--name", name]) == 0
        again = capsys.readouterr().out
    finally:
        main(["sandbox", "down", "--name", name])
        (rootfs.default_root().parent / f"sandbox-{name}.password").unlink(missing_ok=True)
    found = re.search(r"running \(pid (\d+)\); ARI (\S+) answering; SIP udp:([^;\s]+);", status)
    assert found, status
    pid = int(found.group(1))
    assert found.group(2) == f"http://127.0.0.1:{ari_port}"
    assert found.group(3) == f"127.0.0.1:{sip_port}"
    assert env["VOXTRA_ARI_URL"] == f"http://127.0.0.1:{ari_port}"
    assert env["VOXTRA_APP_NAME"] == "voxtra"  # Stasis(voxtra) in the bundled dialplan
    assert set(env) == {"VOXTRA_ARI_URL", "VOXTRA_ARI_USER", "VOXTRA_ARI_PASSWORD",
                        "VOXTRA_APP_NAME"}
    assert down.strip() == "stopped"
    assert not Path(f"/proc/{pid}").exists()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", ari_port))
    assert after == [3, 3] and told.err.count("not running") == 2 and told.out == ""
    assert again.strip() == "not running"
    assert running_process.startswith(b"asterisk"), running_process
    assert accepted == 200 and refused == 401


def ari_status(url: str, user: str, password: str) -> int:
    """The HTTP status of ``GET /ari/asterisk/info`` with these credentials."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(f"{url}/ari/asterisk/info",
                                     headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            json.loads(response.read())
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
