"""Text to speech: a voice shared by all calls, synthesising one piece of text at a time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from voxtra.media.audio import Pcm


class TTS(ABC):
    #: The sample rate of the PCM it produces.
    sample_rate: int

    @abstractmethod
    def synthesize(self, text: str) -> AsyncIterator[Pcm]:
        """``text`` as int16 PCM at :attr:`sample_rate`, in pieces as they are made."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load the model now, blocking (the app calls it in a thread at startup)."""
