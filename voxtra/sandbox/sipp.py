"""A real SIP caller and callee for tests: SIPp (Debian package ``sip-tester``).

Scenarios are generated per call from a few options (number, headers, audio,
DTMF, who hangs up), run by ``sipp`` as a subprocess, and judged from SIPp's
own message trace, so a test can assert what the far end actually saw:
answered, rejected with which status, hung up by whom.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voxtra.media.audio import Pcm
from voxtra.media.g711 import ulaw_decode
from voxtra.media.rtp import RtpPacket
from voxtra.sandbox.capture import CapturedPacket, RtpCapture
from voxtra.sandbox.errors import SippError
from voxtra.sandbox.ports import free_rtp_pair, free_udp_ports
from voxtra.sandbox.scenarios import CalleeScript, CallerScript, callee_scenario, caller_scenario


@dataclass
class SipMessage:
    direction: str  # "sent" or "received"
    start_line: str
    headers: dict[str, str]

    @property
    def cseq_method(self) -> str:
        return self.headers.get("cseq", "").split()[-1] if self.headers.get("cseq") else ""


@dataclass
class SippResult:
    """The outcome of one SIPp run, read from its exit status and message trace."""

    returncode: int
    messages: list[SipMessage]
    stderr: str
    #: The RTP packets the caller received, when the script asked for a capture, and
    #: the packets of both directions with their capture times.
    rtp: list[RtpPacket] = field(default_factory=list)
    captured: list[CapturedPacket] = field(default_factory=list)

    def heard(self) -> Pcm:
        """The μ-law audio the caller received, decoded to 8 kHz int16 PCM, in order."""
        frames = sorted((p for p in self.rtp if p.payload_type == 0), key=lambda p: p.sequence)
        if not frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate([ulaw_decode(p.payload) for p in frames])

    @property
    def succeeded(self) -> bool:
        """SIPp exit status 0: every step of the scenario happened as scripted."""
        return self.returncode == 0

    def received(self, prefix: str) -> list[SipMessage]:
        return [m for m in self.messages
                if m.direction == "received" and m.start_line.startswith(prefix)]

    @property
    def answered(self) -> bool:
        """A 200 OK to our INVITE arrived (caller side)."""
        return any(m.cseq_method == "INVITE" for m in self.received("SIP/2.0 200"))

    @property
    def final_status(self) -> int | None:
        """The final status code the INVITE got (caller side)."""
        for message in self.received("SIP/2.0 "):
            code = int(message.start_line.split()[1])
            if code >= 200 and message.cseq_method == "INVITE":
                return code
        return None

    @property
    def hung_up_by_remote(self) -> bool:
        return bool(self.received("BYE "))


class SipCaller:
    """Places calls into an Asterisk at ``host:port`` with SIPp."""

    def __init__(self, host: str, port: int, sipp: str = "sipp",
                 local_ip: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self.sipp = _find_sipp(sipp)
        #: The address calls come from (another loopback address is another host).
        self.local_ip = local_ip

    async def call(self, script: CallerScript, timeout: float = 60.0) -> SippResult:
        """Run one call to the end and return what SIPp saw."""
        with tempfile.TemporaryDirectory(prefix="voxtra-sipp-") as tmp:
            scenario = Path(tmp) / "caller.xml"
            scenario.write_text(caller_scenario(script))
            args = ["-s", script.number, f"{self.host}:{self.port}"]
            media_port = free_rtp_pair()
            return await with_capture(run_sipp(self.sipp, scenario, Path(tmp), args, timeout,
                                        media_port, local_ip=self.local_ip),
                                   media_port if script.capture_audio else None)


class SipCallee:
    """Answers (or refuses) calls on a local UDP port with SIPp, for originate tests:
    ``calls`` calls, one after the other or at once, then it ends."""

    def __init__(self, script: CalleeScript, host: str = "127.0.0.1", port: int = 0,
                 sipp: str = "sipp", calls: int = 1) -> None:
        self.script = script
        self.calls = calls
        self.host = host
        self.port = port or free_udp_ports(1)
        self.sipp = _find_sipp(sipp)
        self._task: asyncio.Task[SippResult] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="voxtra-sipp-")

    @property
    def uri(self) -> str:
        return f"sip:callee@{self.host}:{self.port}"

    async def start(self, timeout: float = 60.0) -> None:
        """Start listening; returns once SIPp has bound its port."""
        scenario = Path(self._tmp.name) / "callee.xml"
        scenario.write_text(callee_scenario(self.script))
        self._task = asyncio.create_task(self._answer(scenario, timeout, free_rtp_pair()))
        await wait_bound(self.port, self._task)

    async def _answer(self, scenario: Path, timeout: float, media_port: int) -> SippResult:
        return await with_capture(run_sipp(self.sipp, scenario, Path(self._tmp.name), [], timeout,
                                    media_port, bound=self.port, calls=self.calls),
                               media_port if self.script.capture_audio else None)

    async def result(self) -> SippResult:
        """Wait for the one call to end and return what SIPp saw."""
        if self._task is None:
            raise SippError("SipCallee.start() was not called")
        try:
            return await self._task
        finally:
            self._tmp.cleanup()

    async def stop(self) -> None:
        """Stop answering now (SIPp is killed; its calls so far are not reported)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, SippError):
                await self._task
        self._tmp.cleanup()


async def with_capture(run: Coroutine[Any, Any, SippResult], port: int | None) -> SippResult:
    """Run SIPp; with ``port``, record the RTP on it meanwhile."""
    if port is None:
        return await run
    async with RtpCapture(port) as capture:
        result = await run
    result.rtp = capture.packets
    result.captured = capture.captured
    return result


def _find_sipp(sipp: str) -> str:
    path = shutil.which(sipp)
    if path is None:
        raise SippError("sipp is not installed; install it with: sudo apt-get install -y "
                        "sip-tester")
    return path


async def run_sipp(sipp: str, scenario: Path, workdir: Path, args: list[str], timeout: float,
               media_port: int, bound: int | None = None,
               local_ip: str = "127.0.0.1", calls: int = 1) -> SippResult:
    trace = workdir / "messages.log"
    command = [
        sipp, *args, "-sf", str(scenario), "-m", str(calls), "-l", str(calls),
        "-i", local_ip, "-p", str(bound or free_udp_ports(1)),
        "-mi", local_ip, "-mp", str(media_port),
        # SIPp's control socket defaults to UDP 8888 and walks up from there while taken,
        # into ports handed to other runs: give it one of its own.
        "-ci", "127.0.0.1", "-cp", str(free_udp_ports(1)),
        "-timeout", f"{int(timeout)}s", "-timeout_error",
        "-nostdin", "-trace_msg", "-message_file", str(trace), "-trace_err",
        "-error_file", str(workdir / "errors.log"),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=workdir, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout + 10)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
            process.kill()
        await process.wait()
        raise
    errors = workdir / "errors.log"
    detail = stderr.decode(errors="replace")
    if errors.exists():
        detail += errors.read_text(errors="replace")
    messages = parse_trace(trace.read_text(errors="replace")) if trace.exists() else []
    if os.environ.get("VOXTRA_SIPP_KEEP"):
        shutil.copytree(workdir, os.environ["VOXTRA_SIPP_KEEP"], dirs_exist_ok=True)
    return SippResult(returncode=process.returncode or 0, messages=messages, stderr=detail)


_TRACE_HEADER = re.compile(
    r"^(?:UDP|TCP) message (sent|received) [\[(]\d+\]? bytes\)? ?:\s*$", re.MULTILINE
)


def parse_trace(text: str) -> list[SipMessage]:
    """Split SIPp's ``-trace_msg`` file into messages (direction, start line, headers)."""
    messages = []
    parts = _TRACE_HEADER.split(text)
    for direction, chunk in zip(parts[1::2], parts[2::2], strict=True):
        lines = [line.strip() for line in chunk.strip().splitlines()]
        lines = [line for line in lines if not line.startswith("-----")]
        if not lines:
            continue
        headers = {}
        for line in lines[1:]:
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        messages.append(SipMessage(direction, lines[0], headers))
    return messages


async def wait_bound(port: int, task: asyncio.Task[SippResult]) -> None:
    """Wait until something holds UDP ``port`` (SIPp has bound it) or SIPp ended."""
    for _ in range(200):
        if task.done():
            result = task.result()
            raise SippError(f"sipp exited early ({result.returncode}): {result.stderr[-500:]}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return
        await asyncio.sleep(0.02)
    raise SippError(f"sipp did not bind UDP port {port}")
