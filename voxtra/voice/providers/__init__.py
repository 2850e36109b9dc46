"""Speech and language providers; each imports its own dependency lazily, when first used.

:func:`build` makes one from settings (``{provider: openai, model: llama3.2}``), a
list of settings making a fallback list.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from voxtra.voice import model_files
from voxtra.voice.endpointing import EndOfTurnModel
from voxtra.voice.errors import ProviderConfigError, ProviderError
from voxtra.voice.settings import ProviderChoice
from voxtra.voice.vad import VAD, EnergyVAD

#: Provider names by stage: the module under ``voxtra.voice.providers`` and the class.
REGISTRY: dict[str, dict[str, tuple[str, str]]] = {
    "stt": {"whisper": ("whisper", "WhisperSTT"), "deepgram": ("deepgram", "DeepgramSTT")},
    "llm": {"openai": ("openai", "OpenAILLM"), "scripted": ("scripted", "ScriptedLLM")},
    "tts": {"piper": ("piper", "PiperTTS"), "espeak": ("espeak", "EspeakTTS"),
            "elevenlabs": ("elevenlabs", "ElevenLabsTTS")},
    "vad": {"silero": ("silero", "SileroVAD"), "energy": ("", "EnergyVAD")},
    "realtime": {"openai": ("openai_realtime", "OpenAIRealtime")},
    "turn": {"smart-turn": ("smart_turn", "SmartTurn")},
}


def build(stage: str, choice: ProviderChoice) -> Any:
    """The provider (or fallback list) that ``choice`` describes for ``stage``."""
    if isinstance(choice, list):
        from voxtra.voice import fallback

        built = [build(stage, item) for item in choice]
        kinds = {"stt": fallback.FallbackSTT, "llm": fallback.FallbackLLM,
                 "tts": fallback.FallbackTTS}
        if stage not in kinds:
            raise ProviderConfigError(f"{stage}: a fallback list is not supported")
        return built[0] if len(built) == 1 else kinds[stage](built)
    known = REGISTRY[stage]
    if choice.provider not in known:
        raise ProviderConfigError(f"{stage}: unknown provider {choice.provider!r} "
                                  f"(expected one of {', '.join(sorted(known))})")
    module_name, class_name = known[choice.provider]
    if module_name:
        module = importlib.import_module(f"voxtra.voice.providers.{module_name}")
        cls = getattr(module, class_name)
    else:
        cls = EnergyVAD
    try:
        return cls(**choice.options)
    except TypeError as exc:
        raise ProviderConfigError(f"{stage}: {choice.provider}: {exc}") from None
    except ImportError as exc:
        raise ProviderError(choice.provider, f"not installed ({exc.name}): install "
                            f"voxtra-asterisk[{choice.provider}]", retryable=False) from exc


def default_vad() -> VAD:
    """Silero VAD when onnxruntime and a Silero model are installed (the official one,
    see ``voxtra models``, else faster-whisper's 16 kHz export), else the energy
    detector."""
    if importlib.util.find_spec("onnxruntime"):
        from voxtra.voice.providers.silero import SileroVAD, default_model

        if default_model() is not None:
            return SileroVAD()
    return EnergyVAD()


def default_turn_model() -> EndOfTurnModel | None:
    """Smart Turn when onnxruntime, faster-whisper (its features) and the model file are
    installed, else None."""
    if (importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("faster_whisper")
            and model_files.find("smart-turn") is not None):
        from voxtra.voice.providers.smart_turn import SmartTurn

        return SmartTurn()
    return None
