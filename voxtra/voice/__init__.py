"""The voice pipeline: VAD → turn-taking → STT → agent (LLM) → TTS, with barge-in.

Provider bases live here (:mod:`.vad`, :mod:`.stt`, :mod:`.llm`, :mod:`.tts`);
implementations under :mod:`.providers`, each behind an optional extra.
"""

from voxtra.voice.agent import AgentClient
from voxtra.voice.errors import VoiceNotConfiguredError
from voxtra.voice.events import (
    AgentResponseEvent,
    SpeechResult,
    TurnMetrics,
    UserTranscriptEvent,
    VoiceState,
)
from voxtra.voice.llm import LLM, ChatMessage, Tool, ToolCall
from voxtra.voice.pipeline import Providers, VoicePipeline
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.stt import STT, BatchSTT, Transcript
from voxtra.voice.tts import TTS
from voxtra.voice.turns import TurnSettings
from voxtra.voice.vad import VAD, EnergyVAD

__all__ = [
    "LLM", "STT", "TTS", "VAD", "AgentClient", "AgentResponseEvent", "BatchSTT", "ChatMessage",
    "EnergyVAD", "Providers", "SpeechResult", "Tool", "ToolCall", "Transcript", "TurnMetrics",
    "TurnSettings", "UserTranscriptEvent", "VoiceNotConfiguredError", "VoicePipeline",
    "VoiceSettings", "VoiceState",
]
