"""Settings of the voice pipeline: one nested model, part of ``VoxtraSettings.voice``."""

from __future__ import annotations

from pydantic import BaseModel

from voxtra.voice.turns import TurnSettings


class VoiceSettings(BaseModel):
    """How calls talk: turn-taking, provider time limits and what the agent says."""

    turn: TurnSettings = TurnSettings()
    #: Seconds the recogniser has for a turn's final transcript.
    stt_timeout: float = 5.0
    #: Seconds the language model has for its first token.
    llm_timeout: float = 10.0
    #: Seconds the voice has for the first audio of a sentence.
    tts_timeout: float = 5.0
    #: The agent's system prompt.
    instructions: str | None = None
    #: What the ready-made agent says when it answers (nothing if unset).
    greeting: str | None = None
    #: What the agent says when a provider fails, before it hangs up.
    fallback_message: str = "Sorry, I am having trouble right now. Please call again later."
    #: Played with Asterisk's own sounds when even speech synthesis fails.
    fallback_prompt: str = "sound:please-try-call-later"
    #: Seconds of caller silence after which the agent asks again, then hangs up.
    silence_timeout: float = 10.0
