"""Speech and language providers; each imports its own dependency lazily, when first used."""

from __future__ import annotations

import importlib.util

from voxtra.voice.vad import VAD, EnergyVAD


def default_vad() -> VAD:
    """Silero VAD when ``voxtra[offline]`` is installed (onnxruntime and the model), else the
    energy detector."""
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("faster_whisper"):
        from voxtra.voice.providers.silero import SileroVAD

        return SileroVAD()
    return EnergyVAD()
