"""Providers chosen by name in the settings, fallback lists included."""

from __future__ import annotations

import pytest

from voxtra.app import VoxtraApp
from voxtra.voice.errors import ProviderConfigError
from voxtra.voice.fallback import FallbackTTS
from voxtra.voice.providers.espeak import EspeakTTS
from voxtra.voice.providers.openai import OpenAILLM
from voxtra.voice.providers.openai_realtime import OpenAIRealtime
from voxtra.voice.providers.scripted import ScriptedLLM
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.vad import EnergyVAD


def app(voice: dict[str, object]) -> VoxtraApp:
    return VoxtraApp(ari_password="a-long-enough-password", voice=VoiceSettings(**voice))  # type: ignore[arg-type]


def test_providers_come_from_settings_with_their_options() -> None:
    built = app({"llm": {"provider": "openai", "model": "llama3", "api_key": "sk-secret",
                         "base_url": "http://127.0.0.1:11434/v1"},
                 "tts": [{"provider": "espeak", "voice": "en-gb"}, {"provider": "espeak"}],
                 "vad": {"provider": "energy", "margin_db": 9},
                 "realtime": {"provider": "openai", "voice": "marin", "api_key": "sk-secret",
                              "turn_detection": False}})
    providers = built.voice.providers
    assert isinstance(providers.llm, OpenAILLM) and providers.llm.model == "llama3"
    assert isinstance(providers.tts, FallbackTTS)
    assert [type(p) for p in providers.tts.providers] == [EspeakTTS, EspeakTTS]
    assert isinstance(providers.vad, EnergyVAD) and providers.vad.margin_db == 9
    assert isinstance(providers.realtime, OpenAIRealtime)
    assert providers.realtime.voice == "marin" and not providers.realtime.turn_detection
    assert "sk-secret" not in repr(built.settings) + repr(providers.realtime)


def test_code_takes_precedence_over_settings() -> None:
    scripted = ScriptedLLM({"hi": "Hello."})
    built = VoxtraApp(ari_password="a-long-enough-password", llm=scripted,
                      voice=VoiceSettings(llm={"provider": "openai", "api_key": "x"}))  # type: ignore[arg-type]
    assert built.voice.providers.llm is scripted


@pytest.mark.parametrize(("voice", "message"), [
    ({"stt": {"provider": "nonsense"}}, "unknown provider 'nonsense'"),
    ({"tts": {"provider": "espeak", "colour": "blue"}}, "colour"),
    ({"vad": [{"provider": "energy"}]}, "vad"),
])
def test_wrong_provider_settings_are_clear_errors(voice: dict[str, object],
                                                  message: str) -> None:
    with pytest.raises((ProviderConfigError, ValueError), match=message):
        app(voice)
