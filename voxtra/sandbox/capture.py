"""Capture the RTP to and from a local UDP port (what a SIP caller heard and said).

``dumpcap`` (Debian ``tshark``/``wireshark-common``) records the loopback
traffic of the port into a classic pcap file, which is read back here: pcap
record headers (with the capture time), then Ethernet (link type 1, as Linux
reports ``lo``), IPv4 and UDP headers, then the RTP packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from voxtra.media.errors import RtpError
from voxtra.media.rtp import RtpPacket
from voxtra.sandbox.errors import SippError


@dataclass(frozen=True)
class CapturedPacket:
    #: Capture time (seconds since the epoch); True if sent *to* the port.
    time: float
    received: bool
    packet: RtpPacket


class RtpCapture:
    """``async with RtpCapture(port) as capture: ...``; then ``capture.packets`` (the
    RTP the port received) and ``capture.captured`` (both directions, timed)."""

    def __init__(self, port: int, interface: str = "lo") -> None:
        self.port = port
        self.interface = interface
        self.packets: list[RtpPacket] = []
        self.captured: list[CapturedPacket] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="voxtra-capture-")
        self._file = Path(self._tmp.name) / "capture.pcap"
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> RtpCapture:
        dumpcap = shutil.which("dumpcap")
        if dumpcap is None:
            raise SippError("dumpcap is not installed; install it with: sudo apt-get install "
                            "-y tshark")
        self._process = await asyncio.create_subprocess_exec(
            dumpcap, "-i", self.interface, "-f", f"udp port {self.port}", "-P",
            "-w", str(self._file), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        assert self._process.stderr is not None
        seen = b""
        while b"Capturing on" not in seen:
            line = await asyncio.wait_for(self._process.stderr.readline(), 10)
            if not line:
                raise SippError(f"dumpcap did not start: {seen.decode(errors='replace')}")
            seen += line
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._process is not None and self._process.returncode is None:
            await self._drain()
            self._process.send_signal(signal.SIGINT)
            await asyncio.wait_for(self._process.wait(), 10)
        try:
            self.captured = read_pcap_rtp(self._file.read_bytes(), self.port)
        except FileNotFoundError:
            self.captured = []
        finally:
            self.packets = [c.packet for c in self.captured if c.received]
            self._tmp.cleanup()


    async def _drain(self, timeout: float = 2.0) -> None:
        """Wait until dumpcap has written everything captured so far.

        Stopped at once, dumpcap loses the packets of its last fraction of a second
        still in the kernel's capture buffer (seen: a call's last RTP frame, sent
        220 ms before the stop, missing). A marker datagram sent now is written after
        them: once it is in the file, so are they.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(_MARKER, ("127.0.0.1", self.port))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            with contextlib.suppress(FileNotFoundError):
                if _MARKER in self._file.read_bytes():
                    return
            await asyncio.sleep(0.02)


#: Not RTP (version 0): the pcap reader skips it.
_MARKER = b"\x00voxtra-capture-drained"


def read_pcap_rtp(data: bytes, port: int) -> list[CapturedPacket]:
    """The RTP packets to and from UDP ``port`` in a classic pcap file (garbage is
    skipped)."""
    if len(data) < 24:
        return []
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
              b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if endian is None:
        raise ValueError("not a classic pcap file")
    (linktype,) = struct.unpack_from(endian + "I", data, 20)
    link_header = {1: 14, 113: 16, 276: 20}.get(linktype)
    if link_header is None:
        raise ValueError(f"unsupported pcap link type {linktype}")
    packets: list[CapturedPacket] = []
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, length, _ = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        ip = frame[link_header:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 0x0F) * 4:]
        if len(udp) < 8:
            continue
        source, destination = struct.unpack_from("!HH", udp, 0)
        if port not in (source, destination):
            continue
        try:
            packet = RtpPacket.parse(udp[8:])
        except RtpError:
            continue
        scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
        packets.append(CapturedPacket(seconds + fraction * scale, destination == port, packet))
    return packets
