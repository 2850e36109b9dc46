"""RTP packets (RFC 3550 section 5.1): parse with validation, build."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from voxtra.media.errors import RtpError

_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one packet: version 2, CSRC list, header extension and padding (5.1, 5.3.1)."""
        if len(data) < _HEADER.size:
            raise RtpError(f"{len(data)} bytes is shorter than the 12-byte RTP header")
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first == 0x80:  # the usual packet: no CSRC, extension or padding
            return cls(second & 0x7F, sequence, timestamp, ssrc, data[_HEADER.size:],
                       bool(second & 0x80))
        if first >> 6 != 2:
            raise RtpError(f"RTP version {first >> 6}, expected 2")
        offset = _HEADER.size + 4 * (first & 0x0F)
        if len(data) < offset:
            raise RtpError("CSRC list runs past the end of the packet")
        csrcs = struct.unpack_from(f"!{first & 0x0F}I", data, _HEADER.size)
        if first & 0x10:
            if len(data) < offset + 4:
                raise RtpError("header extension runs past the end of the packet")
            (words,) = struct.unpack_from("!H", data, offset + 2)
            offset += 4 + 4 * words
        end = len(data)
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or offset + padding > end:
                raise RtpError(f"padding length {padding} is invalid")
            end -= padding
        if offset > end:
            raise RtpError("header runs past the end of the packet")
        return cls(second & 0x7F, sequence, timestamp, ssrc, bytes(data[offset:end]),
                    bool(second & 0x80), tuple(csrcs))

    @classmethod
    def fields(cls, data: bytes) -> tuple[int, int, int, bytes]:
        """``(payload_type, sequence, timestamp, payload)`` of a packet, validated as
        :meth:`parse` does, without making a packet object (the receive hot path)."""
        if len(data) >= _HEADER.size and data[0] == 0x80:
            _, second, sequence, timestamp, _ = _HEADER.unpack_from(data)
            return second & 0x7F, sequence, timestamp, data[_HEADER.size:]
        packet = cls.parse(data)
        return packet.payload_type, packet.sequence, packet.timestamp, packet.payload

    @staticmethod
    def header(payload_type: int, sequence: int, timestamp: int, ssrc: int,
               marker: bool = False) -> bytes:
        """The 12-byte header of a packet with no CSRC, extension or padding."""
        return _HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, sequence, timestamp,
                            ssrc)

    def build(self) -> bytes:
        """The packet as bytes (no padding, no extension)."""
        first = 0x80 | len(self.csrcs)
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        header = _HEADER.pack(first, second, self.sequence & 0xFFFF,
                              self.timestamp & 0xFFFFFFFF, self.ssrc)
        return header + b"".join(struct.pack("!I", c) for c in self.csrcs) + self.payload
