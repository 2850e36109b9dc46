"""Receive-side jitter buffer: reorder, drop duplicates and late packets, conceal loss.

Packets are released in sequence order as soon as they are contiguous. A gap
is waited for while fewer than ``depth`` packets are held behind it; then the
missing frames are concealed (the last frame repeated at half level, then
silence) and counted as lost. Sequence numbers are extended past the 16-bit
wrap (RFC 3550 appendix A.1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: Concealment frames built from the last good payload (or silence); returns payload bytes.
Conceal = Callable[[bytes | None, int], bytes]


@dataclass
class JitterStats:
    received: int = 0
    released: int = 0
    lost: int = 0
    late: int = 0
    duplicates: int = 0
    #: Interarrival jitter estimate (RFC 3550 section 6.4.1), in timestamp units.
    jitter: float = 0.0


class JitterBuffer:
    def __init__(self, conceal: Conceal, depth: int = 3, clock_rate: int = 8000) -> None:
        self.depth = depth
        self.clock_rate = clock_rate
        self.conceal = conceal
        self.stats = JitterStats()
        self._held: dict[int, bytes] = {}
        self._first: int | None = None  # extended sequence of the first packet
        self._next = 0  # extended sequence expected next
        self._highest = -1
        self._last_payload: bytes | None = None
        self._transit: float | None = None
        # Sequences concealed lately: a packet arriving for one of them is late, not a
        # duplicate (everything else below ``_next`` was released).
        self._concealed: deque[int] = deque(maxlen=256)

    def push(self, sequence: int, timestamp: int, payload: bytes, arrival: float,
             out: list[bytes]) -> None:
        """Add a packet (``arrival`` in seconds); append the payloads it releases to
        ``out``, in order."""
        stats = self.stats
        stats.received += 1
        transit = arrival * self.clock_rate - timestamp
        if self._transit is not None:
            stats.jitter += (abs(transit - self._transit) - stats.jitter) / 16
        self._transit = transit
        seq = self._extend(sequence)
        if self._first is None:
            self._first = self._next = seq
        if seq == self._next and not self._held:  # in order, nothing waiting: the usual case
            self._last_payload = payload
            stats.released += 1
            self._next = seq + 1
            out.append(payload)
            return
        if seq < self._next:
            if seq < self._first or seq in self._concealed:
                stats.late += 1  # its slot was concealed already (or came before the start)
            else:
                stats.duplicates += 1
            return
        if seq in self._held:
            stats.duplicates += 1
            return
        self._held[seq] = payload
        self._release(out)

    def _release(self, out: list[bytes]) -> None:
        held = self._held
        while held:
            payload = held.pop(self._next, None)
            if payload is not None:
                out.append(payload)
                self._last_payload = payload
                self.stats.released += 1
                self._next += 1
                continue
            if len(held) < self.depth:
                break
            # Give up on the gap: conceal every missing frame up to the next held one.
            missing = min(held) - self._next
            for index in range(missing):
                out.append(self.conceal(self._last_payload, index))
                self._concealed.append(self._next + index)
            self.stats.lost += missing
            self._next += missing

    def _extend(self, sequence: int) -> int:
        """The extended sequence number nearest the highest seen (RFC 3550 A.1)."""
        highest = self._highest
        if highest < 0:
            self._highest = sequence
            return sequence
        delta = (sequence - highest) & 0xFFFF
        if delta < 0x8000:  # ahead (or equal)
            self._highest = highest + delta
            return highest + delta
        return highest - (0x10000 - delta)
