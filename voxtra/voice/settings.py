"""Settings of the voice pipeline: one nested model, part of ``VoxtraSettings.voice``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from voxtra.voice.turns import TurnSettings


class ProviderSettings(BaseModel):
    """One provider: its name (``whisper``, ``openai``, ``elevenlabs``, ...) and its
    options, given to its constructor as they are (``model: llama3.2``).

    ``api_key`` is a secret: never shown in logs or ``repr``; unset, the provider
    reads its vendor's usual environment variable (``OPENAI_API_KEY``, ...).
    """

    model_config = ConfigDict(extra="allow")

    provider: str
    api_key: SecretStr | None = None

    @property
    def options(self) -> dict[str, Any]:
        options = dict(self.model_extra or {})
        if self.api_key is not None:
            options["api_key"] = self.api_key
        return options


#: A provider, or a fallback list of them (the first that works is used).
ProviderChoice = ProviderSettings | list[ProviderSettings]


class VoiceSettings(BaseModel):
    """How calls talk: providers, turn-taking, time limits and what the agent says."""

    model_config = ConfigDict(extra="forbid")

    #: Providers chosen by name (``llm: {provider: openai, model: llama3.2}``); those
    #: given to ``VoxtraApp(stt=...)`` in code take precedence.
    stt: ProviderChoice | None = None
    llm: ProviderChoice | None = None
    tts: ProviderChoice | None = None
    vad: ProviderSettings | None = None
    #: A speech-to-speech model (``realtime: {provider: openai, voice: marin}``), used by
    #: ``call.converse()`` and by the ready-made agent in place of the chain.
    realtime: ProviderSettings | None = None
    #: Judges at each pause whether the caller has finished (``{provider: smart-turn}``);
    #: unset, Smart Turn when its model is installed (``voxtra models fetch``);
    #: ``none``: the words recognised so far decide alone.
    end_of_turn: ProviderSettings | Literal["none"] | None = None
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
