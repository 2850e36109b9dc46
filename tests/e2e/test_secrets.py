"""No secret is ever printed: not by Voxtra's loggers, not by the libraries it drives, at
any level down to DEBUG, over a whole call on the cloud providers, a call whose
providers and recording storage all refuse the credentials, and ``voxtra check``.

The secrets: the ARI password, the Deepgram, OpenAI and ElevenLabs keys, and a Google
service account's private key (its credentials file's contents). Each is looked for in
every log record (message, arguments and traceback) and in everything written to
stdout and stderr.

Protocol facts: those of :mod:`voxtra.testing.services.deepgram` (the key travels as
``Authorization: Token``), :mod:`voxtra.testing.services.openai` (``Bearer``) and
:mod:`voxtra.testing.services.elevenlabs` (``xi-api-key``); a service account signs a JWT
with its private key and trades it at the account's ``token_uri`` for an access token
(RFC 7523), so a refused ``token_uri`` fails every upload before any data is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.cli import main
from voxtra.recording import GCSSink
from voxtra.retry import Backoff
from voxtra.sandbox.audio import speech_wav
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.services.deepgram import FakeDeepgram
from voxtra.testing.services.elevenlabs import FakeElevenLabs
from voxtra.testing.services.openai import FakeOpenAI
from voxtra.voice.providers.deepgram import DeepgramSTT
from voxtra.voice.providers.elevenlabs import ElevenLabsTTS
from voxtra.voice.providers.openai import OpenAILLM
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.silero import SileroVAD

KEYS = {name: f"{name}-{secrets.token_hex(12)}" for name in ("deepgram", "openai",
                                                              "elevenlabs")}


class _Everything(logging.Handler):
    """Every record, formatted with its arguments and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def printed() -> Iterator[_Everything]:
    """The root logger at DEBUG: every library's records reach the handler."""
    root = logging.getLogger()
    handler, level = _Everything(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def service_account(token_uri: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "voxtra-test",
            "private_key_id": secrets.token_hex(20), "private_key": pem,
            "client_email": "recorder@voxtra-test.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": token_uri}


def storage_sink(account: dict[str, Any]) -> GCSSink:
    from google.cloud import storage
    from google.oauth2 import service_account as accounts

    credentials = accounts.Credentials.from_service_account_info(account)
    client = storage.Client(project="voxtra-test", credentials=credentials,
                            client_options={"api_endpoint": account["token_uri"]})
    return GCSSink("calls", client=client, backoff=Backoff(base=0.1, cap=0.2),
                   give_up_after=1.0)


def leaks(text: str, secret_values: dict[str, str]) -> list[str]:
    found = []
    for name, value in secret_values.items():
        # The whole secret, or any long piece of it (a key split over lines, a PEM body).
        pieces = [value] + [line for line in value.splitlines() if len(line) >= 16]
        if any(piece in text for piece in pieces):
            found.append(name)
    return found


@pytest.mark.expected_errors  # refused credentials are logged as errors, by design
async def test_no_secret_is_printed_over_calls_and_check(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, piper: PiperTTS,
        tmp_path: Path, printed: _Everything, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    refused = f"http://127.0.0.1:{free_port()}"  # nothing listens: every token request fails
    account = service_account(refused + "/token")
    (tmp_path / "account.json").write_text(json.dumps(account))
    secret_values = {**KEYS, "ARI password": voxtra_settings.ari_password.get_secret_value(),
                     "service account key": account["private_key"]}
    wav = await speech_wav(tmp_path / "caller.wav", piper, 1.0,
                           "What time does the store open?", 3.0)
    seen: dict[str, Any] = {}

    for refuse in (False, True):
        async with FakeDeepgram(api_key=KEYS["deepgram"], reject_key=refuse,
                                transcripts=["What time does the store open?"],
                                seconds_per_word=0.1) as deepgram, \
                FakeOpenAI(["At nine."], api_key=KEYS["openai"],
                           reject_key=refuse) as openai, \
                FakeElevenLabs(api_key=KEYS["elevenlabs"], reject_key=refuse) as voice:
            settings = voxtra_settings.model_copy(update={"recordings_dir": tmp_path})
            app = VoxtraApp(
                settings, vad=SileroVAD(),
                stt=DeepgramSTT(api_key=KEYS["deepgram"], base_url=deepgram.url,
                                encoding="mulaw", sample_rate=8000),
                llm=OpenAILLM("fake-model", api_key=KEYS["openai"], base_url=openai.url),
                tts=ElevenLabsTTS(api_key=KEYS["elevenlabs"], base_url=voice.url,
                                  output_format="pcm_16000"))

            @app.route()
            async def support(call: CallSession, refuse: bool = refuse) -> None:
                await call.answer()
                await call.record_start(sink=storage_sink(account))
                try:
                    heard = await call.listen(timeout=10)
                    if heard is not None:
                        seen[f"reply {refuse}"] = await call.say(call.agent.reply(heard.text))
                finally:
                    await call.hangup()

            async with app:
                result = await sip_caller.call(CallerScript("100", audio=wav, wait_for_bye=20))
                async with asyncio.timeout(15):  # the recording's upload fails, then gives up
                    while sum("failed" in line and "times" in line
                              for line in printed.lines) <= refuse:
                        await asyncio.sleep(0.1)
            assert result.answered, result.stderr

    monkeypatch.setenv("VOXTRA_CONFIG", str(tmp_path / "voxtra.yaml"))
    monkeypatch.delenv("VOXTRA_ARI_PASSWORD", raising=False)
    for ari_password in (secret_values["ARI password"], "a-wrong-ari-password-" + KEYS["openai"]):
        async with FakeOpenAI(api_key=KEYS["openai"], reject_key=True) as openai:
            (tmp_path / "voxtra.yaml").write_text(yaml.safe_dump({
                "ari_url": voxtra_settings.ari_url, "ari_user": voxtra_settings.ari_user,
                "ari_password": ari_password, "app_name": voxtra_settings.app_name,
                "voice": {"llm": {"provider": "openai", "model": "fake-model",
                                  "base_url": openai.url, "api_key": KEYS["openai"]},
                          "tts": {"provider": "espeak"}}}))
            assert await asyncio.to_thread(main, ["check"]) == 1  # the model refused the key

    assert not seen["reply False"].interrupted  # the call went through on every provider
    everything = "\n".join(printed.lines)
    outputs = capfd.readouterr()
    assert "upload of" in everything and "failed" in everything  # storage refused
    assert outputs.out.count("llm: FAILED: OpenAILLM") == 2  # the key was refused, twice
    assert "ari: FAILED" in outputs.out  # the wrong ARI password was refused
    assert leaks(everything, secret_values) == []
    assert leaks(outputs.out + outputs.err, secret_values) == []
    assert len(printed.lines) > 200  # DEBUG from every library was on
    # Refused uploads lose nothing: both calls' recordings wait for another try.
    assert len(list((tmp_path / ".incoming").glob("*.wav"))) == 2
