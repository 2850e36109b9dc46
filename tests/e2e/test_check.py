"""``voxtra check`` against the sandbox Asterisk and local servers speaking OpenAI's chat
and Realtime protocols."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import yaml

from voxtra.cli import main
from voxtra.settings import VoxtraSettings
from voxtra.testing.services.openai import FakeOpenAI
from voxtra.testing.services.openai_realtime import FakeRealtime


def config(path: Path, settings: VoxtraSettings, base_url: str, realtime_url: str,
           key: str) -> Path:
    path.write_text(yaml.safe_dump({
        "ari_url": settings.ari_url, "ari_user": settings.ari_user,
        "ari_password": settings.ari_password.get_secret_value(),
        "app_name": settings.app_name,
        "voice": {"llm": {"provider": "openai", "model": "fake-model", "base_url": base_url,
                          "api_key": key},
                  "tts": {"provider": "espeak"}, "vad": {"provider": "energy"},
                  "realtime": {"provider": "openai", "base_url": realtime_url,
                               "api_key": key, "voice": "marin"}},
    }))
    return path


@pytest.mark.parametrize("key", ["test-key", "wrong-key-12345"])
async def test_check_reports_ari_and_each_provider(
        key: str, voxtra_settings: VoxtraSettings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeOpenAI() as server, FakeRealtime() as realtime:
        monkeypatch.setenv("VOXTRA_CONFIG", str(config(
            tmp_path / "voxtra.yaml", voxtra_settings, server.url, realtime.url, key)))
        monkeypatch.delenv("VOXTRA_ARI_PASSWORD", raising=False)
        status = await asyncio.to_thread(main, ["check"])
    out = capsys.readouterr().out
    assert "ari: OK" in out and "Asterisk 22" in out
    assert "asterisk:" not in out  # the bundled configuration loads every module needed
    assert "tts: OK: EspeakTTS" in out and "stt: not configured" in out
    if key == "test-key":
        assert status == 0 and "llm: OK: OpenAILLM: credentials accepted" in out
        assert "realtime: OK: OpenAIRealtime: credentials accepted" in out
    else:
        assert status == 1 and "llm: FAILED: OpenAILLM" in out and "rejected" in out
        assert "realtime: FAILED: OpenAIRealtime" in out
    assert key not in out


async def test_a_wrong_password_is_said_once_and_cleanly(
        voxtra_settings: VoxtraSettings, tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "examples" / "hello.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXTRA_")}
    env.update(VOXTRA_ARI_URL=voxtra_settings.ari_url, VOXTRA_ARI_PASSWORD="not-the-password-9")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(example), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    text = err.decode()
    assert process.returncode == 1
    assert text.count("refused user 'voxtra'") == 1, text
    assert "Unclosed client session" not in text and "Traceback" not in text
