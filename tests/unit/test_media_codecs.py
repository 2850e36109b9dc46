"""G.711 against the reference codec of CPython's audioop; RTP parsing rules of RFC 3550."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

from voxtra.media import g711
from voxtra.media.errors import RtpError
from voxtra.media.rtp import RtpPacket
from voxtra.sandbox.capture import read_pcap_rtp

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_CODES = bytes(range(256))
ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)


def test_ulaw_matches_reference() -> None:
    assert g711.ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)
    assert g711.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES.tobytes(), 2)


def test_alaw_matches_reference() -> None:
    assert g711.alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)
    assert g711.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES.tobytes(), 2)


def test_rtp_round_trip_with_csrc_and_marker() -> None:
    packet = RtpPacket(0, 65535, 4294967295, 0xDEADBEEF, b"\xff" * 160, True, (1, 2))
    assert RtpPacket.parse(packet.build()) == packet


def test_rtp_extension_and_padding_are_skipped() -> None:
    header = bytes([0x80 | 0x10 | 0x20, 0]) + struct.pack("!HII", 1, 2, 3)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x00" * 4
    data = header + extension + b"abc" + b"\x00\x00\x03"
    assert RtpPacket.parse(data).payload == b"abc"


@pytest.mark.parametrize(("data", "message"), [
    (b"\x80\x00", "shorter than"),
    (bytes([0x40, 0]) + b"\x00" * 10, "version 1"),
    (bytes([0x8F, 0]) + b"\x00" * 10, "CSRC"),
    (bytes([0xA0, 0]) + b"\x00" * 10 + b"\x00", "padding"),
])
def test_rtp_garbage_is_a_typed_error(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        RtpPacket.parse(data)


def test_pcap_reader_keeps_rtp_of_the_port_only_with_direction_and_time() -> None:
    def record(port: int, payload: bytes, source: int = 4000, at: int = 0) -> bytes:
        udp = struct.pack("!HHHH", source, port, 8 + len(payload), 0) + payload
        ip = bytes([0x45, 0]) + struct.pack("!H", 20 + len(udp)) + b"\x00" * 5 + b"\x11" \
            + b"\x00" * 10
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        return struct.pack("<IIII", at, 500000, len(frame), len(frame)) + frame

    rtp = RtpPacket(0, 7, 160, 1, b"\x7f" * 160).build()
    pcap = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    pcap += record(5000, rtp) + record(5002, rtp) + record(5000, b"garbage")
    pcap += record(4000, rtp, source=5000, at=3)
    captured = read_pcap_rtp(pcap, 5000)
    assert [(c.packet.sequence, c.received, c.time) for c in captured] == [
        (7, True, 0.5), (7, False, 3.5)]
