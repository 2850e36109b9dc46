"""The Docker files, parsed (docker/ci.sh builds and runs them for real)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from voxtra.cli import main
from voxtra.sandbox.rootfs import PACKAGES

DOCKER = Path(__file__).parents[2] / "docker"


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def expand(text: str) -> str:
    """Compose's ``${NAME:-default}`` with the defaults (no such variable is set)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def test_asterisk_image_installs_the_sandbox_packages() -> None:
    dockerfile = (DOCKER / "Dockerfile.asterisk").read_text()
    assert re.search(r"^ARG BASE_IMAGE=debian:sid-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", dockerfile, re.MULTILINE)
    installed = set(re.findall(r"asterisk[a-z0-9-]*", dockerfile.split("install", 1)[1]))
    assert set(PACKAGES) <= installed


def test_app_image_copies_existing_paths() -> None:
    root = DOCKER.parent
    for line in (DOCKER / "Dockerfile.app").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), source


def test_compose_uses_the_host_network_and_requires_a_password() -> None:
    services = compose()["services"]
    assert set(services) == {"asterisk-conf", "asterisk", "app"}
    assert "name" not in compose()  # docker-compose 1.29 refuses a top-level name
    assert services["asterisk"]["network_mode"] == services["app"]["network_mode"] == "host"
    assert services["asterisk-conf"]["network_mode"] == "none"
    assert not any("ports" in service for service in services.values())
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
    args = [str(tmp_path) if arg == "/conf" else expand(arg) for arg in command[1:]]
    assert main(args) == 0
    http = (tmp_path / "http.conf").read_text()
    assert "bindaddr = 127.0.0.1" in http and "bindport = 8088" in http  # loopback only
    assert "match = 127.0.0.1" in (tmp_path / "pjsip.conf").read_text()
    assert "astetcdir => /etc/asterisk" in (tmp_path / "asterisk.conf").read_text()


def test_dockerignore_sends_only_what_the_images_copy() -> None:
    ignore = (DOCKER.parent / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # everything out, then the few paths back in
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {line.split()[1].rstrip("/") for line in
              (DOCKER / "Dockerfile.app").read_text().splitlines() if line.startswith("COPY ")}
    assert copied <= kept


def test_render_conf_refuses_a_weak_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXTRA_ARI_PASSWORD", "asterisk")
    assert main(["render-conf", str(tmp_path)]) == 1
    assert "ari_password" in capsys.readouterr().err
