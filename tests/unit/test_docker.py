"""The Docker files are checked by parsing them (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from voxtra.cli import main
from voxtra.testing.rootfs import PACKAGES

DOCKER = Path(__file__).parents[2] / "docker"


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def test_asterisk_image_installs_the_sandbox_packages() -> None:
    dockerfile = (DOCKER / "Dockerfile.asterisk").read_text()
    assert re.search(r"^FROM debian:sid-slim$", dockerfile, re.MULTILINE)
    installed = set(re.findall(r"asterisk[a-z0-9-]*", dockerfile.split("install", 1)[1]))
    assert set(PACKAGES) <= installed


def test_app_image_copies_existing_paths() -> None:
    root = DOCKER.parent
    for line in (DOCKER / "Dockerfile.app").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), source


def test_compose_publishes_on_loopback_only_and_requires_a_password() -> None:
    services = compose()["services"]
    assert set(services) == {"asterisk-conf", "asterisk", "app"}
    for port in services["asterisk"]["ports"]:
        assert port.startswith("127.0.0.1:"), port
    assert ":?" in str(compose()["x-ari-password"]["VOXTRA_ARI_PASSWORD"])
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert (DOCKER.parent / build["dockerfile"]).is_file(), name


def test_compose_renders_the_configuration_with_voxtra(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    command = compose()["services"]["asterisk-conf"]["command"]
    assert command[:2] == ["voxtra", "render-conf"]
    monkeypatch.setenv("VOXTRA_ARI_PASSWORD", "a-compose-password-123")
    args = [str(tmp_path) if arg == "/conf" else arg for arg in command[1:]]
    assert main(args) == 0
    assert "bindaddr = 0.0.0.0" in (tmp_path / "http.conf").read_text()
    assert "match = 172.28.0.0/24" in (tmp_path / "pjsip.conf").read_text()
    assert "astetcdir => /etc/asterisk" in (tmp_path / "asterisk.conf").read_text()


def test_render_conf_refuses_a_weak_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXTRA_ARI_PASSWORD", "asterisk")
    assert main(["render-conf", str(tmp_path)]) == 1
    assert "ari_password" in capsys.readouterr().err
