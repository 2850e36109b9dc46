"""Receive-side jitter buffer: reorder, drop duplicates and late packets, conceal loss.

Packets are released in sequence order as soon as they are contiguous. A gap
is waited for while fewer than ``depth`` packets are held behind it; then up to
``MAX_CONCEALED`` missing frames are concealed (the last frame repeated at half
level, then silence) and all are counted as lost; a longer gap is skipped, so a
stream that jumps ahead costs nothing. Sequence numbers are extended past the
16-bit wrap (RFC 3550 appendix A.1).

Two rules bound what a stream can do to the buffer:

- A stream restart (a sender that starts over with new sequence numbers, as after
  a re-INVITE or a media-server failover, or a gap of more than a second) is followed
  once two consecutive packets confirm it, as RFC 3550 A.1 does, for a jump of more
  than ``MAX_AHEAD`` frames ahead or ``MAX_MISORDER`` behind; before that such a
  packet is dropped (``stats.late``), so a stray packet cannot derail the stream.
- A packet held up more than ``max_delay`` beyond the stream's quickest transit
  (the process fell behind, or the network queued it) is dropped and counted in
  ``stats.delayed``: late audio is lost rather than played late, so latency stays
  bounded under overload. The quickest transit may drift by ``MAX_DRIFT`` (clocks of
  sender and receiver differ), and follows a timestamp discontinuity.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: Concealment frames built from the last good payload (or silence); returns payload bytes.
Conceal = Callable[[bytes | None, int], bytes]

#: A jump of more than this many frames ahead (a second of audio) or MAX_MISORDER
#: behind is a restart, followed once the next packet confirms it (as RFC 3550 A.1
#: does with its wider MAX_DROPOUT): one stray packet cannot drag the stream there.
MAX_AHEAD = 50
MAX_MISORDER = 100
#: The most frames a gap is concealed with; a longer gap is skipped.
MAX_CONCEALED = 5
#: Seconds of delay beyond the quickest transit after which a packet is dropped: long
#: enough that a busy moment of the process (a speech model holding the GIL) loses no
#: caller audio, short enough to bound the latency of an overloaded process.
MAX_DELAY = 1.0
#: Allowed clock drift between sender and receiver (200 ppm).
MAX_DRIFT = 0.0002
#: A transit change this large between consecutive packets (seconds) is a timestamp
#: discontinuity (the sender restarted its clock), not delay.
DISCONTINUITY = 10.0


@dataclass
class JitterStats:
    received: int = 0
    released: int = 0
    lost: int = 0
    late: int = 0
    duplicates: int = 0
    #: Packets dropped because they arrived more than ``max_delay`` late.
    delayed: int = 0
    #: Stream restarts followed.
    restarts: int = 0
    #: Interarrival jitter estimate (RFC 3550 section 6.4.1), in timestamp units.
    jitter: float = 0.0


class JitterBuffer:
    def __init__(self, conceal: Conceal, depth: int = 3, clock_rate: int = 8000,
                 max_delay: float = MAX_DELAY) -> None:
        self.depth = depth
        self.clock_rate = clock_rate
        self.conceal = conceal
        self.max_delay = max_delay
        self.stats = JitterStats()
        self._held: dict[int, bytes] = {}
        self._first: int | None = None  # extended sequence of the first packet
        self._next = 0  # extended sequence expected next
        self._probation: int | None = None  # a possible restart, awaiting its successor
        self._last_payload: bytes | None = None
        self._transit: float | None = None
        self._arrival = 0.0
        self._quickest = 0.0  # the quickest transit seen (drifting), in timestamp units
        # Sequences concealed lately: a packet arriving for one of them is late, not a
        # duplicate (everything else below ``_next`` was released).
        self._concealed: deque[int] = deque(maxlen=256)

    def push(self, sequence: int, timestamp: int, payload: bytes, arrival: float,
             out: list[bytes]) -> None:
        """Add a packet (``arrival`` in seconds); append the payloads it releases to
        ``out``, in order."""
        stats = self.stats
        stats.received += 1
        seq = self._extend(sequence)
        if self._first is None:
            self._first = self._next = seq
        if seq > self._next + MAX_AHEAD or seq < self._next - MAX_MISORDER:
            if seq != self._probation:
                self._probation = seq + 1
                stats.late += 1
                return
            self._restart(seq)  # the second packet in a row of a new stream
            self._transit = None  # and its clock starts afresh
        elif seq < self._next:
            if seq < self._first or seq in self._concealed:
                stats.late += 1  # its slot was concealed already (or came before the start)
            else:
                stats.duplicates += 1
            return
        elif seq in self._held:
            stats.duplicates += 1
            return
        # Only a packet the sequence accepts moves the timing: a stray one with a wild
        # timestamp (a duplicate, a stranger's) cannot shift the delay baseline.
        if self._late(timestamp, arrival):
            return
        if seq == self._next and not self._held:  # in order, nothing waiting: the usual case
            self._last_payload = payload
            stats.released += 1
            self._next = seq + 1
            out.append(payload)
            return
        self._held[seq] = payload
        self._release(out)

    def _late(self, timestamp: int, arrival: float) -> bool:
        """Update the jitter estimate and the quickest transit; whether the packet is
        later than ``max_delay`` (then dropped and counted)."""
        stats = self.stats
        rate = self.clock_rate
        transit = arrival * rate - timestamp
        if self._transit is None or abs(transit - self._transit) > DISCONTINUITY * rate:
            self._quickest = transit
        else:
            stats.jitter += (abs(transit - self._transit) - stats.jitter) / 16
            drift = MAX_DRIFT * (arrival - self._arrival) * rate
            self._quickest = min(self._quickest + drift, transit)
        self._transit = transit
        self._arrival = arrival
        if transit - self._quickest > self.max_delay * rate:
            stats.delayed += 1
            return True
        return False

    def _restart(self, seq: int) -> None:
        self.stats.restarts += 1
        self.stats.lost += len(self._held)
        self._held.clear()
        self._first = self._next = seq
        self._probation = None

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
            # Give up on the gap: conceal the first missing frames, skip the rest.
            missing = min(held) - self._next
            for index in range(min(missing, MAX_CONCEALED)):
                out.append(self.conceal(self._last_payload, index))
                self._concealed.append(self._next + index)
            self.stats.lost += missing
            self._next += missing

    def _extend(self, sequence: int) -> int:
        """The extended sequence number nearest the one expected next (RFC 3550 A.1);
        only accepted packets move what is expected, so strays cannot shift it."""
        if self._first is None:
            return sequence
        return self._next + ((sequence - self._next + 0x8000) & 0xFFFF) - 0x8000
