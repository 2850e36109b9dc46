"""Bad configurations, as an operator writes them: the app, started as a process, stops
at once with a typed Voxtra error naming the setting (never its value), instead of
running on a misread value or failing later on a call."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

APP = """
from voxtra import CallSession, VoxtraApp

app = VoxtraApp()

@app.route()
async def hello(call: CallSession) -> None:
    await call.answer()

app.run()
"""

SECRET = "do-not-print-9f3k"

CASES = {
    "not YAML": ('ari_url: "http://127.0.0.1', "ConfigError", "not valid YAML"),
    "a misspelt setting": ("shutdown_grce: 5", "ConfigError", "did you mean 'shutdown_grace'"),
    "a misspelt nested setting": ("voice:\n  turn:\n    min_endpointing_dely: 1",
                                  "ConfigError", "did you mean 'min_endpointing_delay'"),
    "a misspelt route key": ("routes:\n  - handler: a:b\n    extention: '100'",
                             "ConfigError", "did you mean 'extension'"),
    "a word for a number": ("shutdown_grace: soon", "ConfigError", "VOXTRA_SHUTDOWN_GRACE"),
    "an ARI URL without scheme": ("ari_url: 127.0.0.1:8088", "ConfigError",
                                  "must start with http://"),
    "a host name to bind RTP to": ("media_bind: media.example", "ConfigError",
                                   "must be an IP address"),
    "a negative jitter depth": ("jitter_depth: -3", "ConfigError", "VOXTRA_JITTER_DEPTH"),
    "an unknown media format": ("media_format: opus", "ConfigError", "'slin16'"),
    "an unknown provider": ("voice:\n  stt:\n    provider: nope", "ProviderConfigError",
                            "unknown provider 'nope'"),
    "a handler that is not there": ("routes:\n  - handler: nowhere.to:be", "ConfigError",
                                    "cannot be imported"),
    "a list, not settings": ("- ari_url", "ConfigError", "must hold a mapping"),
    "a password in a broken file": (f'ari_password: "{SECRET}\nari_user: x', "ConfigError",
                                    "not valid YAML"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_bad_configuration_stops_the_app_with_a_named_error(
        case: str, tmp_path: Path) -> None:
    text, error, says = CASES[case]
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "voxtra.yaml").write_text(text + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXTRA_")}
    env.update(VOXTRA_CONFIG="voxtra.yaml", VOXTRA_ARI_PASSWORD=SECRET)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 30)  # it must not wait for ARI
    text_out = out.decode()
    last = text_out.strip().splitlines()[-1]
    assert process.returncode == 1, text_out
    assert f"{error}:" in last and says in last, last
    assert SECRET not in text_out
