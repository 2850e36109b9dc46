"""End-of-turn models: has the caller finished, judged when they pause.

Silence alone cannot tell "I need a table for ... four people" from a finished
answer. At each pause the pipeline hands the turn's audio so far to an
:class:`EndOfTurnModel`; its probability that the turn is complete decides
whether the short or the long endpointing delay applies
(:class:`~voxtra.voice.turns.TurnSettings`). A model is shared by all calls and
keeps no per-call state: each decision sees the whole turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from voxtra.media.audio import Pcm


class EndOfTurnModel(ABC):
    #: The sample rate of the audio the model judges.
    sample_rate: int = 16000

    @abstractmethod
    async def probability(self, pcm: Pcm) -> float:
        """Probability (0..1) that the turn whose audio (at :attr:`sample_rate`, the
        whole turn so far, ending at the pause) is ``pcm`` is complete."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load the model now, blocking (the app calls it in a thread at startup)."""
