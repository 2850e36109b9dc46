"""Reading SIPp's message trace (format of sipp 3.6 ``-trace_msg``)."""

from __future__ import annotations

from voxtra.testing.sipp import CallerScript, SippResult, caller_scenario, parse_trace

TRACE = """----------------------------------------------- 2026-11-22 21:50:01.000
UDP message sent (541 bytes):

INVITE sip:100@127.0.0.1:5060 SIP/2.0
CSeq: 1 INVITE

----------------------------------------------- 2026-11-22 21:50:01.010
UDP message received [300] bytes :

SIP/2.0 200 OK
CSeq: 1 INVITE
Contact: <sip:127.0.0.1:5060>

----------------------------------------------- 2026-11-22 21:50:02.000
UDP message received [200] bytes :

BYE sip:1000@127.0.0.1:5070 SIP/2.0
CSeq: 2 BYE
"""


def test_parse_trace() -> None:
    messages = parse_trace(TRACE)
    assert [(m.direction, m.start_line.split()[0]) for m in messages] == [
        ("sent", "INVITE"), ("received", "SIP/2.0"), ("received", "BYE")]
    result = SippResult(0, messages, "")
    assert result.answered and result.hung_up_by_remote and result.final_status == 200


def test_caller_scenario_carries_headers_dtmf_and_hangup() -> None:
    xml = caller_scenario(CallerScript("100", headers={"X-Room-ID": "room-42"}, dtmf="5#",
                                       hangup_after=1.0))
    assert "X-Room-ID: room-42" in xml
    assert xml.count("application/dtmf-relay") == 2
    assert "Signal=#" in xml and "BYE [next_url]" in xml
