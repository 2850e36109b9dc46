"""Reading SIPp's message trace (format of sipp 3.6 ``-trace_msg``), the scenarios we
give it, and what a capture of its calls carried."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxtra.media.g711 import ulaw_encode
from voxtra.media.rtp import RtpPacket
from voxtra.sandbox.audio import audible_spans
from voxtra.sandbox.capture import CapturedPacket
from voxtra.sandbox.scenarios import CallerScript, caller_scenario
from voxtra.sandbox.sipp import SippResult, parse_trace
from voxtra.sandbox.sound import g722_codec

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


def test_a_wideband_caller_offers_and_streams_g722(tmp_path: Path) -> None:
    narrow = caller_scenario(CallerScript("100", audio=tmp_path / "a.wav"))
    assert "m=audio [media_port] RTP/AVP 0 101" in narrow and "a=rtpmap:0 PCMU/8000" in narrow
    assert f'rtp_stream="{tmp_path / "a.wav"},1,0"' in narrow
    wide = caller_scenario(CallerScript("100", audio=tmp_path / "a.g722", codec="G722"))
    assert "m=audio [media_port] RTP/AVP 9 101" in wide and "a=rtpmap:9 G722/8000" in wide
    assert "PCMU" not in wide and f'rtp_stream="{tmp_path / "a.g722"},1,9"' in wide


def packets(payloads: list[bytes], payload_type: int, received: bool) -> list[CapturedPacket]:
    return [CapturedPacket(1.0 + n * 0.02, received,
                           RtpPacket(payload_type, n, n * 160, 1, payload))
            for n, payload in enumerate(payloads)]


def test_audible_spans_decode_mu_law_and_g722() -> None:
    """G.722 is decoded as a stream, packets in sequence order whatever their arrival."""
    pytest.importorskip("G722", reason="G.722 needs the G722 package")
    rate = 16000
    t = np.arange(rate) / rate  # a second: 0.4 s of tone, 0.6 s of silence
    tone = np.where(t < 0.4, 8000 * np.sin(2 * np.pi * 440 * t), 0).astype(np.int16)
    coded = g722_codec().encode(tone)
    wide = packets([coded[i:i + 160] for i in range(0, len(coded), 160)], 9, True)
    wide[3], wide[4] = wide[4], wide[3]  # reordered on the way
    [(start, end)] = audible_spans(wide, received=True)
    assert (start, end) == pytest.approx((1.0, 1.4), abs=0.03)
    narrow = packets([ulaw_encode(tone[::2][i:i + 160]) for i in range(0, 8000, 160)], 0,
                     False)
    [heard] = audible_spans(narrow, received=False)
    assert heard == pytest.approx((1.0, 1.4), abs=0.03)
    assert audible_spans(narrow, received=True) == []
