"""SIPp scenarios, generated per call from a few options: what the caller does
(:class:`CallerScript`: number, headers, audio, DTMF, REFER, who hangs up) and how the
callee treats a call (:class:`CalleeScript`). SIPp facts relied on: ``[field]``
keywords are filled by SIPp (``[local_ip]``, ``[media_port]``, ``[last_Call-ID:]``);
``<exec rtp_stream="FILE,LOOPS,PT"/>`` streams a file as RTP; ``<exec play_pcap_audio>``
replays a capture (the RFC 4733 digits SIPp ships).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

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
    hang up after ``hangup_after``); ``busy``: 486; ``congested``: 503 (the network
    has no room: Asterisk's cause 34); ``no-answer``: ring until the
    caller gives up (CANCEL).
    """

    behaviour: str = "answer"
    ring_for: float = 0.0
    hangup_after: float | None = None
    audio: Path | None = None
    wait_for_bye: float = 30.0
    #: Record the RTP that Asterisk sends to the callee (see :attr:`SippResult.heard`).
    capture_audio: bool = False


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
    if script.behaviour in ("busy", "congested"):
        status = "486 Busy Here" if script.behaviour == "busy" else "503 Service Unavailable"
        steps.append(_reply(status, sdp=False))
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
        raise ValueError(f"behaviour {script.behaviour!r}: expected answer, busy, congested or "
                         "no-answer")
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
