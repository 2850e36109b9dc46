"""What a call's voice pipeline reports: events, voice states and per-turn metrics.

Handlers subscribe with ``call.on("transcript", fn)``; each event class names
the event it is (:attr:`VoiceEvent.name`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from voxtra.voice.llm import ToolCall


class VoiceState(StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    PROCESSING = "processing"
    SPEAKING = "speaking"


class VoiceEvent:
    """Base of the events; ``name`` is what ``call.on(name, fn)`` subscribes to."""

    name: ClassVar[str]


@dataclass(frozen=True)
class SpeechStarted(VoiceEvent):
    """The caller started speaking (``at``: loop time of the first speech audio)."""

    name: ClassVar[str] = "speech_started"
    at: float


@dataclass(frozen=True)
class SpeechEnded(VoiceEvent):
    """The caller's turn ended (the silence after it was long enough)."""

    name: ClassVar[str] = "speech_ended"
    at: float
    duration: float


@dataclass(frozen=True)
class UserTranscriptEvent(VoiceEvent):
    """What the caller said: partial guesses while they speak, then one final per turn.

    ``backchannel`` finals were said while Voxtra spoke and did not count ("uh-huh",
    or words recognised with too little confidence): reported, never returned by
    ``listen()``. A final that ``continues`` the previous one holds the whole turn,
    the previous final's words included: the caller went on after a pause before
    hearing any reply, and the reply begun to the previous final was dropped unheard
    (``TurnSettings.continuation_window``).
    """

    name: ClassVar[str] = "transcript"
    text: str
    confidence: float
    started_at: float
    ended_at: float
    final: bool = True
    language: str | None = None
    backchannel: bool = False
    continues: bool = False


@dataclass(frozen=True)
class AgentResponseEvent(VoiceEvent):
    """The agent's reply: its text and the tools it called."""

    name: ClassVar[str] = "agent_response"
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: Seconds from the request to the first token, and to the whole reply.
    first_token: float | None = None
    duration: float | None = None


@dataclass(frozen=True)
class SpeechResult:
    """How a ``say()`` ended: the whole text (of a streamed reply, as much as was
    generated), what the caller heard of it, and whether barge-in (or the end of the
    call) cut it. Frames dropped on a busy moment cut nothing: playback went on past
    them (``played_seconds`` counts only the audio sent)."""

    text: str
    heard_text: str
    interrupted: bool
    played_seconds: float

    def __bool__(self) -> bool:
        return not self.interrupted


@dataclass(frozen=True)
class ResponseStarted(VoiceEvent):
    """Voxtra's first audio of a reply has gone out."""

    name: ClassVar[str] = "response_started"
    at: float


@dataclass(frozen=True)
class ResponseEnded(VoiceEvent):
    name: ClassVar[str] = "response_ended"
    result: SpeechResult


@dataclass(frozen=True)
class Interrupted(VoiceEvent):
    """The caller talked over Voxtra: its audio stopped at ``at`` (when it was paused
    while their words were judged, if it was) and was cleared; the caller hears
    silence ``to_silence`` seconds after ``at``."""

    name: ClassVar[str] = "interrupted"
    at: float
    to_silence: float
    result: SpeechResult


@dataclass(frozen=True)
class ResponsePaused(VoiceEvent):
    """The caller spoke over Voxtra: its audio stopped at ``at`` (silence at the caller
    ``to_silence`` later) while their words are judged; ``interrupted`` or
    ``response_resumed`` follows."""

    name: ClassVar[str] = "response_paused"
    at: float
    to_silence: float


@dataclass(frozen=True)
class ResponseResumed(VoiceEvent):
    """What paused Voxtra was no interruption (no words, a noise, a backchannel): the
    reply plays on from where it stopped, after ``paused_for`` seconds."""

    name: ClassVar[str] = "response_resumed"
    at: float
    paused_for: float


@dataclass(frozen=True)
class VoiceError(VoiceEvent):
    """A provider failed: ``stage`` is vad, stt, llm or tts."""

    name: ClassVar[str] = "error"
    stage: str
    error: BaseException
    retryable: bool


@dataclass(frozen=True)
class StateChanged(VoiceEvent):
    name: ClassVar[str] = "state"
    state: VoiceState


@dataclass
class TurnMetrics(VoiceEvent):
    """Seconds spent in each stage of one turn (None: the stage did not happen).

    ``voice_to_voice`` runs from the end of the caller's speech to the first frame
    of the reply sent as RTP; ``barge_in_to_silence`` from the decision to
    interrupt until the caller hears silence.
    """

    name: ClassVar[str] = "metrics"
    end_of_speech_to_transcript: float | None = None
    llm_first_token: float | None = None
    tts_first_audio: float | None = None
    voice_to_voice: float | None = None
    barge_in_to_silence: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
