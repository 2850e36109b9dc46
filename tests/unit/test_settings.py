"""Settings: environment, YAML with ${VAR} expansion, routes from YAML, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from voxtra.app import VoxtraApp
from voxtra.app.routing import CallInfo
from voxtra.settings import ConfigError, VoxtraSettings

HANDLERS = '''
async def sales(call):
    pass
'''


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "my_handlers.py").write_text(HANDLERS)
    path = tmp_path / "voxtra.yaml"
    path.write_text("""
ari_url: http://127.0.0.1:${ARI_PORT:-8088}
ari_password: ${TEST_ARI_SECRET}
app_name: from-yaml
routes:
  - handler: my_handlers:sales
    did: "+1 555 0100"
    metadata: {team: "${TEAM:-sales}"}
""")
    return path


def test_yaml_with_expansion_and_routes(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ARI_SECRET", "s3cret-from-env-123")
    monkeypatch.setenv("ARI_PORT", "18088")
    settings = VoxtraSettings(config_file=config)
    assert settings.ari_url == "http://127.0.0.1:18088"
    assert settings.ari_password.get_secret_value() == "s3cret-from-env-123"
    assert "s3cret" not in repr(settings)
    app = VoxtraApp(settings)
    route = app._configured_routes[0]
    assert route.handler.__name__ == "sales" and route.metadata == {"team": "sales"}
    assert route.matches(CallInfo("+15550100"))


def test_environment_outranks_the_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ARI_SECRET", "s3cret-from-env-123")
    monkeypatch.setenv("VOXTRA_CONFIG", str(config))
    monkeypatch.setenv("VOXTRA_APP_NAME", "from-env")
    assert VoxtraSettings().app_name == "from-env"


def test_unset_variable_is_named(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_ARI_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"\$\{TEST_ARI_SECRET\} is not set"):
        VoxtraSettings(config_file=config)


def test_missing_password_and_bad_handler(config: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOXTRA_ARI_PASSWORD", raising=False)
    with pytest.raises(ValidationError, match="ari_password"):
        VoxtraSettings()
    bad = tmp_path / "bad.yaml"
    bad.write_text("ari_password: x-long-enough-123\nroutes:\n  - handler: nowhere:nothing\n")
    with pytest.raises(ConfigError, match="nowhere:nothing"):
        VoxtraApp(VoxtraSettings(config_file=bad))
    with pytest.raises(ConfigError, match="cannot read"):
        VoxtraSettings(config_file=tmp_path / "absent.yaml")


def test_a_broken_config_file_never_shows_the_password(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text('app_name: x\nari_password: "s3cret-value-987\nari_user: voxtra\n')
    with pytest.raises(ConfigError, match="not valid YAML at line") as raised:
        VoxtraSettings(config_file=broken)
    assert "s3cret-value-987" not in str(raised.value)


def test_an_app_without_a_password_names_the_variable_and_where_to_get_one(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VOXTRA_ARI_PASSWORD", raising=False)
    monkeypatch.delenv("VOXTRA_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(ConfigError, match="VOXTRA_ARI_PASSWORD is not set") as raised:
        VoxtraApp()
    assert "voxtra sandbox env" in str(raised.value)
    monkeypatch.setenv("VOXTRA_ARI_PASSWORD", "a-password-long-enough")
    monkeypatch.setenv("VOXTRA_SHUTDOWN_GRACE", "soon")
    with pytest.raises(ConfigError, match=r"shutdown_grace \(VOXTRA_SHUTDOWN_GRACE\)") as bad:
        VoxtraApp()
    assert "soon" not in str(bad.value)  # values are never echoed: they may be secrets


def test_the_hello_example_without_a_password_says_what_to_do(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "examples" / "hello.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXTRA_")}
    run = subprocess.run([sys.executable, str(example)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "VOXTRA_ARI_PASSWORD is not set" in run.stderr.splitlines()[-1]
    assert "Field required" not in run.stderr
