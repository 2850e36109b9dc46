"""Audio ports: what the voice pipeline reads from and writes to.

:class:`voxtra.media.endpoint.RtpEndpoint` implements both over ExternalMedia
RTP; :class:`voxtra.testing.voice.MemoryAudio` implements them in memory, so
voice code is tested without sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from voxtra.media.audio import AudioChunk, Pcm
from voxtra.media.pacer import Playout


class AudioInput(Protocol):
    """The caller's audio; each subscriber gets every chunk, in order."""

    def subscribe(self, max_chunks: int | None = None) -> AsyncIterator[AudioChunk]: ...


class AudioOutput(Protocol):
    """Audio to the caller, paced in real time."""

    def push(self, audio: Pcm, sample_rate: int | None = None,
             protected: bool = False) -> Playout:
        """Queue PCM; its :class:`Playout` counts what has been sent."""
        ...

    def clear(self) -> float:
        """Drop what is queued and not protected, and lift a pause; seconds until the
        caller hears silence."""
        ...

    def pause(self) -> float:
        """Stop sending, keeping what is queued; seconds until the caller hears silence."""
        ...

    def resume(self) -> None:
        """Play on what :meth:`pause` held, from where it stopped."""
        ...

    @property
    def queued(self) -> float:
        """Seconds of audio queued and not yet sent."""
        ...

    async def wait_for_playout(self) -> None:
        """Return once everything queued now has been sent (or dropped)."""
        ...
