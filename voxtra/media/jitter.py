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

from voxtra.media.rtp import RtpPacket

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
        self._held: dict[int, RtpPacket] = {}
        self._next: int | None = None  # extended sequence expected next
        self._highest = -1
        self._last_payload: bytes | None = None
        self._transit: float | None = None
        self._recent: set[int] = set()  # sequences released lately (duplicate detection)
        self._recent_order: deque[int] = deque()

    def push(self, packet: RtpPacket, arrival: float) -> list[bytes]:
        """Add a packet (``arrival`` in seconds); return the payloads now released in order."""
        self.stats.received += 1
        self._update_jitter(packet, arrival)
        seq = self._extend(packet.sequence)
        if self._next is None:
            self._next = seq
        if seq < self._next:
            if seq in self._recent:
                self.stats.duplicates += 1
            else:
                self.stats.late += 1  # its slot was concealed already
            return []
        if seq == self._next and not self._held:  # in order, nothing waiting: the usual case
            self._remember(seq)
            self._last_payload = packet.payload
            self.stats.released += 1
            self._next = seq + 1
            return [packet.payload]
        if seq in self._held:
            self.stats.duplicates += 1
            return []
        self._held[seq] = packet
        return self._release()

    def _release(self) -> list[bytes]:
        out: list[bytes] = []
        assert self._next is not None
        while self._held:
            packet = self._held.pop(self._next, None)
            if packet is not None:
                self._remember(self._next)
                out.append(packet.payload)
                self._last_payload = packet.payload
                self.stats.released += 1
                self._next += 1
                continue
            if len(self._held) < self.depth:
                break
            # Give up on the gap: conceal every missing frame up to the next held one.
            missing = min(self._held) - self._next
            for index in range(missing):
                out.append(self.conceal(self._last_payload, index))
            self.stats.lost += missing
            self._next += missing
        return out

    def _remember(self, sequence: int) -> None:
        self._recent.add(sequence)
        self._recent_order.append(sequence)
        if len(self._recent_order) > 256:
            self._recent.discard(self._recent_order.popleft())

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

    def _update_jitter(self, packet: RtpPacket, arrival: float) -> None:
        transit = arrival * self.clock_rate - packet.timestamp
        if self._transit is not None:
            delta = abs(transit - self._transit)
            self.stats.jitter += (delta - self.stats.jitter) / 16
        self._transit = transit
