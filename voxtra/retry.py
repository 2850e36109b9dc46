"""Capped exponential backoff with full jitter, for reconnects and upload retries."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays of ``uniform(0, min(cap, base * 2**attempt))`` seconds (full jitter)."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 32)))
