"""Speech-to-speech models: the caller's audio in, the model's spoken reply out.

The alternative to the STT → LLM → TTS chain: one model hears the caller, decides
when the turn is over and answers with audio. A :class:`RealtimeModel` (shared by
all calls) opens one :class:`RealtimeSession` per call; the session speaks the
vendor's protocol and reports what happens as the vendor-neutral events below,
which :class:`voxtra.voice.conversation.RealtimeConversation` turns into the same
voice events, states and metrics as the chain.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from voxtra.media.audio import AudioChunk, Pcm
from voxtra.voice.errors import ProviderError
from voxtra.voice.llm import Tool, ToolCall


@dataclass(frozen=True)
class RealtimeOptions:
    """What one call's session is opened with."""

    instructions: str | None = None
    tools: Sequence[Tool] = ()
    #: Sample rate of the call's audio (8000 lets a model take G.711 as it is).
    sample_rate: int = 8000
    #: The caller may interrupt the model by speaking.
    interruptions: bool = True


# Events a session reports -------------------------------------------------------


@dataclass(frozen=True)
class CallerSpeechStarted:
    """The model's turn detection heard the caller start."""


@dataclass(frozen=True)
class CallerSpeechStopped:
    """The model's turn detection heard the caller stop (the turn is being answered)."""


@dataclass(frozen=True)
class CallerTranscript:
    """What the caller said in the turn, as the model's transcription heard it."""

    text: str


@dataclass(frozen=True)
class ReplyStarted:
    response_id: str


@dataclass(frozen=True)
class ReplyAudio:
    """A piece of the reply's audio; ``item_id`` names the reply for truncation."""

    item_id: str
    pcm: Pcm
    sample_rate: int


@dataclass(frozen=True)
class ReplyText:
    """A piece of the reply's words (the transcript of its audio)."""

    item_id: str
    text: str


@dataclass(frozen=True)
class ReplyToolCall:
    call: ToolCall


@dataclass(frozen=True)
class ReplyDone:
    """The model finished generating: ``completed``, ``cancelled``, ``failed`` or
    ``incomplete``."""

    status: str
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class ModelError:
    """The model reported an error; the session is still open."""

    error: ProviderError


RealtimeEvent = (CallerSpeechStarted | CallerSpeechStopped | CallerTranscript | ReplyStarted
                 | ReplyAudio | ReplyText | ReplyToolCall | ReplyDone | ModelError)


class RealtimeSession(ABC):
    """One call's connection to a speech-to-speech model."""

    @abstractmethod
    async def send_audio(self, chunk: AudioChunk) -> None:
        """The caller's audio, as it arrives."""

    @abstractmethod
    def events(self) -> AsyncIterator[RealtimeEvent]:
        """What the model does; ends when the session is closed, and raises
        :class:`ProviderError` when the connection is lost."""

    @abstractmethod
    async def respond(self, instructions: str | None = None) -> None:
        """Ask for a reply now (``instructions`` for this reply only)."""

    @abstractmethod
    async def commit(self) -> None:
        """The caller's turn is over (when the model's turn detection is off)."""

    @abstractmethod
    async def cancel(self) -> None:
        """Stop generating the current reply."""

    @abstractmethod
    async def truncate(self, item_id: str, heard_ms: int) -> None:
        """The caller heard only the first ``heard_ms`` of reply ``item_id``: the model
        forgets the rest."""

    @abstractmethod
    async def tool_result(self, call_id: str, output: str) -> None:
        """The result of a tool the model called (a reply is asked for separately)."""

    @abstractmethod
    async def aclose(self) -> None: ...


class RealtimeModel(ABC):
    """A speech-to-speech model shared by all calls of an app."""

    #: Whether the model decides when the caller's turn is over.
    turn_detection: bool = True

    @abstractmethod
    async def connect(self, options: RealtimeOptions) -> RealtimeSession:
        """Open a session for one call; a rejected key raises a non-retryable
        :class:`ProviderError`."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Prepare the client now (the app calls it at startup)."""

    async def check(self) -> None:  # noqa: B027 - optional hook
        """Raise :class:`ProviderError` if the service rejects the credentials."""
