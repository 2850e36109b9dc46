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
import random
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

import numpy as np

from voxtra.media.g711 import Pcm, ulaw_decode
from voxtra.media.rtp import RtpPacket
from voxtra.sandbox.capture import CapturedPacket, RtpCapture
from voxtra.sandbox.errors import SippError

_SDP = """v=0
o=voxtra 1 1 IN IP[local_ip_type] [local_ip]
s=voxtra-test
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP {payload_type} 101
a=rtpmap:{payload_type} {codec}/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv"""
#: RTP payload types (RFC 3551) of the codecs a caller may offer. G.722's RTP clock is
#: 8000 Hz although it carries 16 kHz audio (RFC 3551, section 4.5.2).
PAYLOAD_TYPES = {"PCMU": 0, "G722": 9}


def _sdp(codec: str = "PCMU") -> str:
    return _SDP.format(payload_type=PAYLOAD_TYPES[codec], codec=codec)


@dataclass(frozen=True)
class CallerScript:
    """What the SIP caller does once it has dialled ``number``.

    ``hangup_after`` (seconds after the answer) makes the caller hang up;
    ``None`` waits up to ``wait_for_bye`` seconds for the far end to hang up.
    ``expect_status`` other than 200 expects the call to be refused with it.
    """

    number: str
    caller_id: str = "1000"
    headers: dict[str, str] = field(default_factory=dict)
    audio: Path | None = None
    audio_loops: int = 1
    dtmf: str = ""
    dtmf_delay: float = 0.5
    #: "info" (SIP INFO, application/dtmf-relay) or "rfc4733" (telephone-event RTP
    #: packets, from the pcap files SIPp ships; their sequence numbers are fixed and
    #: rise in the order 1-9, *, #, 0, so digits must come in that order: a digit after
    #: a later one looks like an old packet to the far end and is dropped).
    dtmf_mode: str = "info"
    hangup_after: float | None = None
    wait_for_bye: float = 10.0
    expect_status: int = 200
    #: Record the RTP that Asterisk sends to the caller (see :attr:`SippResult.heard`).
    capture_audio: bool = False
    #: Send a REFER (a transfer asked by the caller) to this URI once answered, and
    #: expect this final status to it.
    refer_to: str | None = None
    refer_status: int = 202
    #: The one audio codec the caller offers, and sends ``audio`` as: "PCMU" (a μ-law
    #: WAV) or "G722" (a raw 64 kbit/s G.722 file, 160 bytes per 20 ms).
    codec: Literal["PCMU", "G722"] = "PCMU"


@dataclass(frozen=True)
class CalleeScript:
    """How the SIP callee treats an incoming call.

    ``answer``: 180 then 200 after ``ring_for`` seconds, then wait for BYE (or
    hang up after ``hangup_after``); ``busy``: 486; ``no-answer``: ring until the
    caller gives up (CANCEL).
    """

    behaviour: str = "answer"
    ring_for: float = 0.0
    hangup_after: float | None = None
    audio: Path | None = None
    wait_for_bye: float = 30.0
    #: Record the RTP that Asterisk sends to the callee (see :attr:`SippResult.heard`).
    capture_audio: bool = False


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
            media_port = _free_rtp_pair()
            return await _captured(_run(self.sipp, scenario, Path(tmp), args, timeout,
                                        media_port, local_ip=self.local_ip),
                                   media_port if script.capture_audio else None)


class SipCallee:
    """Answers (or refuses) calls on a local UDP port with SIPp, for originate tests."""

    def __init__(self, script: CalleeScript, host: str = "127.0.0.1", port: int = 0,
                 sipp: str = "sipp") -> None:
        self.script = script
        self.host = host
        self.port = port or _free_udp_ports(1)
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
        self._task = asyncio.create_task(self._answer(scenario, timeout, _free_rtp_pair()))
        await _wait_bound(self.port, self._task)

    async def _answer(self, scenario: Path, timeout: float, media_port: int) -> SippResult:
        return await _captured(_run(self.sipp, scenario, Path(self._tmp.name), [], timeout,
                                    media_port, bound=self.port),
                               media_port if self.script.capture_audio else None)

    async def result(self) -> SippResult:
        """Wait for the one call to end and return what SIPp saw."""
        if self._task is None:
            raise SippError("SipCallee.start() was not called")
        try:
            return await self._task
        finally:
            self._tmp.cleanup()


#: Where test servers listen: below the kernel's ephemeral range (32768 and up on
#: Linux), because a client that keeps reconnecting to a loopback port in that range
#: while nothing listens there can be given that very port as its own and connect to
#: itself (a TCP self-connect), holding the port when the server wants it back.
SERVER_PORTS = range(5000, 10000)


async def _captured(run: Coroutine[Any, Any, SippResult], port: int | None) -> SippResult:
    """Run SIPp; with ``port``, record the RTP on it meanwhile."""
    if port is None:
        return await run
    async with RtpCapture(port) as capture:
        result = await run
    result.rtp = capture.packets
    result.captured = capture.captured
    return result


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port free now on 127.0.0.1, outside the ephemeral range when one can be found."""
    for port in random.sample(SERVER_PORTS, 100):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def caller_scenario(script: CallerScript) -> str:
    """SIPp XML for one outgoing call."""
    extra = "".join(f"      {name}: {value}\n" for name, value in script.headers.items())
    steps = [f"""  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{script.caller_id}@[local_ip]:[local_port]>;tag=[pid]voxtra[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{script.caller_id}@[local_ip]:[local_port]>
      Max-Forwards: 70
{extra}      Content-Type: application/sdp
      Content-Length: [len]

{_indent(_sdp(script.codec))}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>"""]
    if script.expect_status != 200:
        steps.append(f"""  <recv response="{script.expect_status}"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>""")
        return _scenario("voxtra-caller", steps)
    steps.append("""  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [routes]
      CSeq: 1 ACK
      Contact: <sip:[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>""")
    if script.audio is not None:
        steps.append(_rtp_stream(script.audio, script.audio_loops,
                                 PAYLOAD_TYPES[script.codec]))
    cseq = 2
    if script.refer_to is not None:
        steps.append("""  <pause milliseconds="500"/>""")
        steps.append(_in_dialog("REFER", cseq, extra=f"Refer-To: <{escape(script.refer_to)}>"))
        steps.append(f"""  <recv response="{script.refer_status}"/>""")
        cseq += 1
    for digit in script.dtmf:
        steps.append(f"""  <pause milliseconds="{int(script.dtmf_delay * 1000)}"/>""")
        if script.dtmf_mode == "rfc4733":
            steps.append(f"""  <nop><action><exec play_pcap_audio="{_dtmf_pcap(digit)}"/>
  </action></nop>""")
            continue
        steps.append(_in_dialog("INFO", cseq, "Content-Type: application/dtmf-relay",
                                f"Signal={escape(digit)}\nDuration=160"))
        steps.append("""  <recv response="200"/>""")
        cseq += 1
    if script.hangup_after is not None:
        steps.append(f"""  <pause milliseconds="{int(script.hangup_after * 1000)}"/>""")
        steps.append(_in_dialog("BYE", cseq))
        steps.append("""  <recv response="200" crlf="true"/>""")
    else:
        steps.append(_recv_bye(script.wait_for_bye))
    return _scenario("voxtra-caller", steps)


def callee_scenario(script: CalleeScript) -> str:
    """SIPp XML for one incoming call."""
    # SIPp refuses variables that are set but never used: remember the caller's
    # Contact only when this callee sends its own BYE, the INVITE's CSeq number
    # only when it answers a CANCEL (the 487 must carry the INVITE's CSeq).
    if script.behaviour == "answer" and script.hangup_after is not None:
        assign = '<ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" ' \
                 'assign_to="contact"/>'
    elif script.behaviour == "no-answer":
        assign = '<ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" ' \
                 'assign_to="invite_cseq"/>'
    else:
        assign = ""
    remember = f">\n    <action>\n      {assign}\n    </action>\n  </recv>" if assign else "/>"
    steps = [f"""  <recv request="INVITE" crlf="true"{remember}""",
             _reply("180 Ringing", sdp=False)]
    if script.behaviour == "busy":
        steps.append(_reply("486 Busy Here", sdp=False))
        steps.append("""  <recv request="ACK"/>""")
    elif script.behaviour == "no-answer":
        steps.append(f"""  <recv request="CANCEL" timeout="{int(script.wait_for_bye * 1000)}"/>""")
        steps.append(_reply("200 OK", sdp=False))
        steps.append(_reply("487 Request Terminated", sdp=False,
                            cseq="CSeq: [$invite_cseq] INVITE"))
        steps.append("""  <recv request="ACK"/>""")
    elif script.behaviour == "answer":
        if script.ring_for:
            steps.append(f"""  <pause milliseconds="{int(script.ring_for * 1000)}"/>""")
        steps.append(_reply("200 OK", sdp=True))
        steps.append("""  <recv request="ACK" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_party"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_party"/>
    </action>
  </recv>""" if script.hangup_after is not None else """  <recv request="ACK"/>""")
        if script.audio is not None:
            steps.append(_rtp_stream(script.audio, 1, 0))
        if script.hangup_after is not None:
            steps.append(f"""  <pause milliseconds="{int(script.hangup_after * 1000)}"/>
  <send retrans="500">
    <![CDATA[
      BYE [$contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local_party]
      To: [$remote_party]
      [last_Call-ID:]
      CSeq: 1 BYE
      Contact: <sip:[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>""")
        else:
            steps.append(_recv_bye(script.wait_for_bye))
    else:
        raise ValueError(f"behaviour {script.behaviour!r}: expected answer, busy or no-answer")
    return _scenario("voxtra-callee", steps)


def _in_dialog(method: str, cseq: int, content_type: str = "", body: str = "",
               extra: str = "") -> str:
    """A request inside the caller's dialog (route set and tags from the 200 OK)."""
    headers = f"      {content_type}\n      Content-Length: [len]\n\n{_indent(body)}" \
        if body else "      Content-Length: 0"
    if extra:
        headers = f"      {extra}\n{headers}"
    return f"""  <send retrans="500">
    <![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [routes]
      CSeq: {cseq} {method}
      Contact: <sip:[local_ip]:[local_port]>
      Max-Forwards: 70
{headers}
    ]]>
  </send>"""


def _reply(status: str, sdp: bool, cseq: str = "[last_CSeq:]") -> str:
    body = f"Content-Type: application/sdp\n      Content-Length: [len]\n\n{_indent(_sdp())}" \
        if sdp else "Content-Length: 0"
    return f"""  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]voxtra[call_number]
      [last_Call-ID:]
      {cseq}
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      {body}
    ]]>
  </send>"""


def _recv_bye(wait: float) -> str:
    return recv_and_accept("BYE", wait)


def recv_and_accept(method: str, wait: float) -> str:
    """Scenario steps: wait up to ``wait`` seconds for a ``method`` request and answer
    it 200 OK (a BYE, an INFO)."""
    return f"""  <recv request="{method}" timeout="{int(wait * 1000)}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>"""


#: Where SIPp's packages put its RFC 4733 pcap files (dtmf_2833_<digit>.pcap).
PCAP_DIRS = ("/usr/share/sip-tester", "/usr/share/sipp", "/usr/local/share/sipp")


def _dtmf_pcap(digit: str) -> str:
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    for directory in PCAP_DIRS:
        path = Path(directory) / f"dtmf_2833_{name}.pcap"
        if path.is_file():
            return str(path)
    raise SippError(f"no RFC 4733 pcap for DTMF {digit!r} in {', '.join(PCAP_DIRS)}: "
                    "install SIPp's package (Debian: sip-tester)")


def _rtp_stream(audio: Path, loops: int, payload_type: int) -> str:
    return f"""  <nop>
    <action>
      <exec rtp_stream="{escape(str(audio))},{loops},{payload_type}"/>
    </action>
  </nop>"""


def _scenario(name: str, steps: list[str]) -> str:
    body = "\n".join(steps)
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
{body}
</scenario>
"""


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


def _find_sipp(sipp: str) -> str:
    path = shutil.which(sipp)
    if path is None:
        raise SippError("sipp is not installed; install it with: sudo apt-get install -y "
                        "sip-tester")
    return path


async def _run(sipp: str, scenario: Path, workdir: Path, args: list[str], timeout: float,
               media_port: int, bound: int | None = None,
               local_ip: str = "127.0.0.1") -> SippResult:
    trace = workdir / "messages.log"
    command = [
        sipp, *args, "-sf", str(scenario), "-m", "1", "-l", "1",
        "-i", local_ip, "-p", str(bound or _free_udp_ports(1)),
        "-mi", local_ip, "-mp", str(media_port),
        # SIPp's control socket defaults to UDP 8888 and walks up from there while taken,
        # into ports handed to other runs: give it one of its own.
        "-ci", "127.0.0.1", "-cp", str(_free_udp_ports(1)),
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


#: UDP ports handed to SIPp runs, and when: not handed out again for a while, since a
#: port is only taken when SIPp starts, and calls placed together would share it.
_HANDED_OUT: dict[int, float] = {}
_HANDED_OUT_FOR = 30.0


def _free_udp_ports(count: int) -> int:
    """The first of ``count`` free UDP ports in a row (aligned to ``count``) among
    :data:`SERVER_PORTS`, none handed out to another SIPp run lately; every such block
    is tried (in random order) before giving up."""
    now = time.monotonic()
    for port, since in list(_HANDED_OUT.items()):
        if now - since > _HANDED_OUT_FOR:
            del _HANDED_OUT[port]
    blocks = list(range(SERVER_PORTS.start, SERVER_PORTS.stop - count + 1, count))
    random.shuffle(blocks)
    error: OSError | None = None
    for first in blocks:
        ports = range(first, first + count)
        if any(port in _HANDED_OUT for port in ports):
            continue
        try:
            with contextlib.ExitStack() as held:
                for port in ports:
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    sock.bind(("127.0.0.1", port))
        except OSError as exc:
            error = exc
            continue
        _HANDED_OUT.update(dict.fromkeys(ports, now))
        return first
    raise SippError(f"no {count} free UDP ports in a row for SIPp ({len(_HANDED_OUT)} "
                    f"handed out lately; last error: {error})")


def _free_rtp_pair() -> int:
    """SIPp's media port: it binds audio RTP and RTCP there, video RTP and RTCP next."""
    return _free_udp_ports(4)


async def _wait_bound(port: int, task: asyncio.Task[SippResult]) -> None:
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
