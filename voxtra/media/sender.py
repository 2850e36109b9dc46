"""The sending half of a call's RTP: audio queued as 20 ms frames on a pacer, and the
packets that carry them.

PCM is resampled to the send format's rate and cut into frames as it is queued, and
encoded when its frame goes out, together with every other call's frames of that tick
(:mod:`voxtra.media.batch`); ``bytes`` are taken as already encoded. Asterisk 22's
chan_rtp ignores RTP it receives with the dynamic payload type it uses for ``slin16``
(118) while it accepts static PCMU (seen against the sandbox), so audio for a linear
format leg is sent as PCMU.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from voxtra.media.audio import AudioChunk, AudioFormat, Pcm
from voxtra.media.pacer import Pacer, Payload, Playout
from voxtra.media.resample import Resampler
from voxtra.media.rtp import RtpPacket


class RtpSender:
    """Sends one call's audio in ``fmt`` (PCMU for a linear format)."""

    def __init__(self, fmt: AudioFormat, send: Callable[[Payload, bool], None]) -> None:
        """``send(payload, marker)`` sends a talkspurt's first frame, which leaves at
        once rather than at the next tick."""
        self.format = fmt
        self.send_format = fmt if fmt.static_payload_type is not None else AudioFormat.ULAW
        self.pacer: Pacer[Payload] = Pacer(send)
        self._resamplers: dict[int, Resampler] = {}
        self._sequence = random.randrange(0x10000)
        self._timestamp = random.randrange(0x100000000)
        self._ssrc = random.randrange(1, 0x100000000)

    def push(self, audio: Pcm | AudioChunk | bytes, sample_rate: int | None = None,
             protected: bool = False) -> Playout:
        """Queue audio as frames (see :meth:`RtpEndpoint.push
        <voxtra.media.endpoint.RtpEndpoint.push>`)."""
        fmt = self.send_format
        if isinstance(audio, bytes):
            size = fmt.frame_bytes
            encoded = [audio[i:i + size] for i in range(0, len(audio), size)]
            if encoded and len(encoded[-1]) < size:
                encoded[-1] += fmt.silence()[:size - len(encoded[-1])]
            return self.pacer.enqueue(encoded, protected)
        if isinstance(audio, AudioChunk):
            pcm, rate = audio.pcm, audio.sample_rate
        else:
            pcm, rate = audio, sample_rate or self.format.sample_rate
        if rate != fmt.sample_rate:
            resampler = self._resamplers.get(rate)
            if resampler is None:
                resampler = self._resamplers[rate] = Resampler(rate, fmt.sample_rate)
            pcm = resampler.process(pcm)
        size = fmt.samples_per_frame
        frames: list[Payload] = [pcm[i:i + size] for i in range(0, len(pcm), size)]
        if frames and len(frames[-1]) < size:
            frames[-1] = np.concatenate([frames[-1], np.zeros(size - len(frames[-1]),
                                                              dtype=np.int16)])
        return self.pacer.enqueue(frames, protected)

    def packet(self, payload: bytes, marker: bool) -> bytes:
        """The next RTP packet carrying ``payload`` (RFC 3550 5.1: sequence number and
        timestamp advance by one frame)."""
        fmt = self.send_format
        assert fmt.static_payload_type is not None
        packet = RtpPacket.header(fmt.static_payload_type, self._sequence, self._timestamp,
                                  self._ssrc, marker) + payload
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + fmt.samples_per_frame) & 0xFFFFFFFF
        return packet
