"""Voxtra against an Asterisk configured by somebody else.

The ``plain_asterisk`` sandbox is Debian's stock configuration with one endpoint
(``phone``, calls from 127.0.0.1), ``exten => _X.,1,Stasis(voxtra-plain)`` and ARI
enabled: no Voxtra contexts, no ``spool/recording`` directory. Protocol facts relied on:
an originated channel's events reach the originating ARI application before it is
answered and it enters Stasis when answered; a SIP 486 becomes Q.850 cause 17 and an
unanswered dial that times out ends with cause 19 (or 18); a BYE from Asterisk ends the
caller's dialog. The stock ``us`` indications make ``tone:ring`` 440+480 Hz; setting a
channel's ``PJSIP_DTMF_MODE()`` re-INVITEs its peer; ARI answers ``GET /bridges/{id}``
from a snapshot cache that follows a change a moment later; SIPp stops a party's RTP
when its dialog ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from voxtra import (
    CallEndedError,
    CallSession,
    Outcome,
    TransferFailed,
    VoxtraApp,
    VoxtraError,
    VoxtraSettings,
)
from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriAuthError, NotFoundError
from voxtra.asterisk.capabilities import missing_requirements
from voxtra.call.errors import DialplanError
from voxtra.call.prompts import PLAYBACK_VARIABLE
from voxtra.media.audio import Pcm
from voxtra.outbound.detection import asterisk_amd
from voxtra.recording.errors import RecordingError
from voxtra.sandbox.asterisk import SandboxState
from voxtra.sandbox.audio import (
    decoded,
    dominant_frequency,
    tone,
    tone_packets,
    tones,
    write_ulaw_wav,
)
from voxtra.sandbox.ports import free_rtp_pair
from voxtra.sandbox.prompts import PromptServer, wav_bytes
from voxtra.sandbox.scenarios import CalleeScript, CallerScript, caller_scenario, recv_and_accept
from voxtra.sandbox.sipp import SipCallee, SipCaller, SippResult, run_sipp, with_capture
from voxtra.voice.events import SpeechResult
from voxtra.voice.tts import TTS


def settings(plain: SandboxState) -> VoxtraSettings:
    return VoxtraSettings(ari_url=plain.ari_url, ari_user=plain.ari_user,
                          ari_password=SecretStr(plain.ari_password), app_name=plain.app_name,
                          shutdown_grace=2.0)


def caller(plain: SandboxState) -> SipCaller:
    return SipCaller(plain.sip_host, plain.sip_port)


async def wait_idle(app: VoxtraApp) -> None:
    async with asyncio.timeout(10):
        while app.calls:
            await asyncio.sleep(0.05)


def wav(tmp_path: Path, name: str, frequency: int, seconds: float) -> Path:
    """A μ-law WAV of one tone, for a SIPp party to send."""
    return write_ulaw_wav(tmp_path / f"{name}.wav", tone(frequency, seconds))


def heard_between(result: SippResult, start: float, end: float) -> Pcm:
    """What a SIP party received between two moments (capture times), decoded."""
    pieces = [pcm for at, pcm in decoded(result.captured, True) if start <= at <= end]
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)


def level(pcm: Pcm, frequency: float, rate: int = 8000) -> float:
    """The RMS level of ``pcm`` at ``frequency`` alone (the Hann-windowed spectrum's
    band around it, by Parseval): about 5600 for one of the tests' tones, mixed with
    others or not; near 0 when it is not there."""
    if len(pcm) < rate // 10:
        return 0.0
    window = np.hanning(len(pcm))
    power = np.abs(np.fft.rfft(pcm.astype(np.float64) * window)) ** 2
    band = np.abs(np.fft.rfftfreq(len(pcm), 1 / rate) - frequency) <= max(5, 2 * rate / len(pcm))
    return float(np.sqrt(2 * power[band].sum() / (len(pcm) * np.sum(window ** 2))))


def sent_times(result: SippResult) -> list[float]:
    """Capture times of the RTP packets a SIPp party sent (its audio runs until its
    dialog ends)."""
    return [c.time for c in result.captured if not c.received]


async def test_blind_transfer_reaches_the_target_through_ari_alone(
        plain_asterisk: SandboxState) -> None:
    callee = SipCallee(CalleeScript("answer", ring_for=0.5, hangup_after=1.5))
    await callee.start()
    app = VoxtraApp(settings(plain_asterisk))
    ended: list[str] = []

    @app.route()
    async def transfer(call: CallSession) -> None:
        call.on_hangup(lambda c: ended.append(c.id))
        await call.answer()
        await call.transfer_to(f"PJSIP/phone/{callee.uri}", headers={"X-Order": "4321"})

    async with app:
        result = await caller(plain_asterisk).call(CallerScript("200", wait_for_bye=20))
        answered = await callee.result()
        await wait_idle(app)
        left = await app.client.bridges.list()
    assert answered.succeeded, answered.stderr
    invite = answered.received("INVITE")[0]
    assert {k.lower(): v for k, v in invite.headers.items()}.get("x-order") == "4321"
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert ended and len(ended) == 1
    assert left == []


async def test_busy_and_unanswered_targets_leave_the_caller_in_the_app(
        plain_asterisk: SandboxState) -> None:
    busy = SipCallee(CalleeScript("busy"))
    silent = SipCallee(CalleeScript("no-answer"))
    for callee in (busy, silent):
        await callee.start()
    app = VoxtraApp(settings(plain_asterisk))
    failures: list[TransferFailed] = []
    after: list[str] = []

    @app.route()
    async def transfer(call: CallSession) -> None:
        await call.answer()
        for target in (busy, silent):
            try:
                await call.transfer_to(f"PJSIP/phone/{target.uri}", timeout=2)
            except TransferFailed as failure:
                failures.append(failure)
        # Still here: the caller hears the apology, then the app hangs up.
        after.append(str(await call.play_file("sound:vm-goodbye")))

    async with app:
        result = await caller(plain_asterisk).call(
            CallerScript("201", wait_for_bye=20, capture_audio=True))
        await asyncio.gather(busy.result(), silent.result())
        await wait_idle(app)
    assert [f.outcome for f in failures] == [Outcome.BUSY, Outcome.NO_ANSWER]
    assert failures[0].cause == 17
    assert after == ["True"]
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert len(result.heard()) > 8000  # the ringback and the goodbye reached the caller


async def test_sip_headers_and_a_verb_on_an_ended_call(plain_asterisk: SandboxState) -> None:
    app = VoxtraApp(settings(plain_asterisk))
    seen: dict[str, object] = {}

    @app.route(header={"X-Customer": "42"})
    async def known_customer(call: CallSession) -> None:
        seen["customer"] = await call.sip_header("X-Customer")
        seen["missing"] = await call.sip_header("X-Missing")
        seen["custom"] = await call.sip_headers("X-")
        await call.answer()
        await call.wait_ended()
        try:
            await call.answer()
        except CallEndedError as error:
            seen["after the end"] = isinstance(error, VoxtraError)

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(
            "202", headers={"X-Customer": "42", "X-Tier": "gold"}, hangup_after=0.5))
        await wait_idle(app)
    assert result.succeeded, result.stderr
    assert seen == {"customer": "42", "missing": None,
                    "custom": {"X-Customer": "42", "X-Tier": "gold"}, "after the end": True}


async def test_recording_without_a_recording_directory_names_the_fix(
        plain_asterisk: SandboxState) -> None:
    app = VoxtraApp(settings(plain_asterisk))
    errors: list[RecordingError] = []

    @app.route()
    async def record(call: CallSession) -> None:
        await call.answer()
        try:
            await call.record_start("plain-test")
        except RecordingError as error:
            errors.append(error)
        await call.play_file("sound:beep")  # the call goes on

    async with app:
        result = await caller(plain_asterisk).call(CallerScript("203"))
        await wait_idle(app)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert len(errors) == 1 and "spool/recording" in str(errors[0])
    assert "install -d -o asterisk" in str(errors[0])


async def test_play_file_of_an_http_url_is_heard(plain_asterisk: SandboxState) -> None:
    app = VoxtraApp(settings(plain_asterisk))
    played: list[bool] = []
    async with PromptServer({"welcome": wav_bytes(tone(600, 1.5))}) as server:

        @app.route()
        async def prompt(call: CallSession) -> None:
            await call.answer()
            played.append(await call.play_file(server.of("welcome")))

        async with app:
            result = await caller(plain_asterisk).call(
                CallerScript("204", capture_audio=True))
            await wait_idle(app)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert played == [True] and server.fetches["welcome"] >= 1
    heard = result.heard()
    start = int(np.argmax(np.abs(heard) > 1000))
    prompt = heard[start:start + 8000]  # the first second of the prompt
    assert len(prompt) == 8000 and abs(dominant_frequency(prompt) - 600) < 10


async def test_rfc4733_dtmf_both_ways(plain_asterisk: SandboxState) -> None:
    app = VoxtraApp(settings(plain_asterisk))
    gathered: list[str] = []

    @app.route()
    async def keypad(call: CallSession) -> None:
        await call.answer()
        gathered.append(await call.gather(3, timeout=4, finish_on_key=None))
        await call.send_dtmf("73")

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(
            "205", dtmf="24#", dtmf_mode="rfc4733", dtmf_delay=0.4, capture_audio=True))
        await wait_idle(app)
    assert result.succeeded, result.stderr
    assert gathered == ["24#"]  # telephone-event packets, no SIP INFO
    assert not any(m.cseq_method == "INFO" for m in result.messages)
    sent = {p.payload[0] for p in result.rtp if p.payload_type == 101}
    assert sent == {7, 3}  # RFC 4733 event codes of the app's digits


class ToneTTS(TTS):
    """A 700 Hz tone of 0.25 s per word: what the agent hears is measurable."""

    sample_rate = 8000

    async def synthesize(self, text: str) -> AsyncIterator[Pcm]:
        for _ in text.split():
            yield tone(700, 0.25)


WHISPER = "Call from a customer."


@pytest.mark.parametrize("whisper", ["send_audio", "say"])
async def test_warm_transfer_whispers_to_the_agent_alone_then_connects(
        plain_asterisk: SandboxState, tmp_path: Path, whisper: str) -> None:
    agent = SipCallee(CalleeScript(
        "answer", ring_for=0.3, capture_audio=True, wait_for_bye=30,
        audio=write_ulaw_wav(tmp_path / "agent.wav", tone(300, 8.0))))
    await agent.start()
    app = VoxtraApp(settings(plain_asterisk), tts=ToneTTS())
    steps: list[str] = []
    said: list[SpeechResult] = []

    @app.route()
    async def warm(call: CallSession) -> None:
        await call.answer()
        consultation = await call.consult(f"PJSIP/phone/{agent.uri}")
        steps.append(str(call.state))
        if whisper == "say":  # the one speech path, sentence by sentence
            said.append(await consultation.say(WHISPER))
        else:
            await consultation.send_audio(tone(700, 1.0))
        transfer = await consultation.complete()
        steps.append(str(call.state))
        await transfer.ended

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(
            "206", audio=write_ulaw_wav(tmp_path / "caller.wav", tone(440, 10.0)),
            hangup_after=9, capture_audio=True))
        answered = await agent.result()
        await wait_idle(app)
        left = await app.client.bridges.list()
    assert result.succeeded, result.stderr
    assert answered.succeeded, answered.stderr
    assert steps == ["on_hold", "in_progress"]
    if whisper == "say":
        assert [(r.heard_text, r.interrupted) for r in said] == [(WHISPER, False)]
    agent_heard, caller_heard = tones(answered.heard()), tones(result.heard())
    assert agent_heard.get(700, 0) >= 7  # the whisper, to the agent ...
    assert 700 not in caller_heard  # ... and not to the caller
    assert agent_heard.get(440, 0) >= 20 and caller_heard.get(300, 0) >= 20  # connected
    assert left == []


@pytest.mark.parametrize("mode", ["listen", "whisper"])
async def test_a_supervisor_listens_or_whispers_through_a_snoop_channel(
        plain_asterisk: SandboxState, tmp_path: Path, mode: str) -> None:
    agent = SipCallee(CalleeScript(
        "answer", capture_audio=True, wait_for_bye=30,
        audio=write_ulaw_wav(tmp_path / "agent.wav", tone(300, 10.0))))
    supervisor = SipCallee(CalleeScript(
        "answer", capture_audio=True, wait_for_bye=30,
        audio=write_ulaw_wav(tmp_path / "supervisor.wav", tone(800, 10.0))))
    for callee in (agent, supervisor):
        await callee.start()
    app = VoxtraApp(settings(plain_asterisk))

    @app.route()
    async def supervised(call: CallSession) -> None:
        await call.answer()
        transfer = await call.transfer_to(f"PJSIP/phone/{agent.uri}", ringback=None)
        supervision = await call.supervise(f"PJSIP/phone/{supervisor.uri}", mode)
        await asyncio.sleep(3)
        await supervision.end()
        await transfer.ended

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(
            "207", audio=write_ulaw_wav(tmp_path / "caller.wav", tone(440, 10.0)),
            hangup_after=7, capture_audio=True))
        heard_by = {"agent": await agent.result(), "supervisor": await supervisor.result()}
        await wait_idle(app)
        left = await app.client.bridges.list()
    assert result.succeeded and all(r.succeeded for r in heard_by.values())
    supervisor_heard = tones(heard_by["supervisor"].heard())
    caller_heard, agent_heard = tones(result.heard()), tones(heard_by["agent"].heard())
    # The supervisor hears both sides of the call, mixed (440 Hz and 300 Hz).
    loud = heard_by["supervisor"].heard()
    spectrum = np.abs(np.fft.rfft(loud[len(loud) // 2:][:8000].astype(float)))
    assert spectrum[440] > 20 * np.median(spectrum) and spectrum[300] > 20 * np.median(spectrum)
    assert supervisor_heard
    assert 800 not in agent_heard  # the agent never hears the supervisor
    if mode == "listen":
        assert 800 not in caller_heard
    else:
        assert caller_heard.get(800, 0) >= 10  # a whisper reaches the caller alone
    assert left == []



async def to_the_queue(call: CallSession) -> None:
    await call.transfer_to_queue("support")  # no voxtra-transfer context here


@pytest.mark.parametrize(("verb", "number", "named"), [
    (to_the_queue, "208", ["voxtra-transfer"]),
    # Machine detection by AMD() needs a context a stock Asterisk lacks.
    (asterisk_amd, "209", ["[voxtra-amd]", "app_amd"]),
], ids=["continue-to-a-missing-place", "asterisks-amd"])
async def test_a_verb_needing_a_missing_dialplan_place_is_refused_not_a_dropped_call(
        plain_asterisk: SandboxState, verb: Callable[[CallSession], Awaitable[object]],
        number: str, named: list[str]) -> None:
    """The error names what to add to the dialplan, and the call stays in the app."""
    app = VoxtraApp(settings(plain_asterisk))
    errors: list[DialplanError] = []
    played: list[bool] = []

    @app.route()
    async def refused(call: CallSession) -> None:
        await call.answer()
        try:
            await verb(call)
        except DialplanError as error:
            errors.append(error)
        played.append(await call.play_file("sound:beep"))  # the caller is still here

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(number))
        await wait_idle(app)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert len(errors) == 1 and all(name in str(errors[0]) for name in named), errors
    assert played == [True]


async def test_missing_modules_are_named_with_what_they_break(
        plain_asterisk: SandboxState) -> None:
    client = AriClient(plain_asterisk.ari_url, plain_asterisk.ari_user,
                       plain_asterisk.ari_password)
    try:
        before = await missing_requirements(client)
        await client.asterisk.unload_module("app_queue.so")
        try:
            after = await missing_requirements(client)
        finally:
            await client.asterisk.load_module("app_queue.so")
    finally:
        await client.close()
    assert before == []  # a stock Asterisk has everything Voxtra uses
    assert [(r.module, r.core) for r in after] == [("app_queue", False)]
    assert after[0].needed_for == "transfer_to_queue"


# README claims, verb by verb, where each party (or Asterisk) is -------------------------


async def test_cancelling_play_file_stops_the_prompt(plain_asterisk: SandboxState) -> None:
    """README: ``call.play_file(...)``: "returns when it has finished, or when the call
    ends; cancelling it stops the prompt".

    The prompt is ``tone:1000`` (it never ends by itself). The handler cancels the task
    once the caller has heard it for a second, then stays silent for 2 s and hangs up.
    Evidence: Asterisk reported the playback playing on the caller's channel (ARI
    ``GET /playbacks/{id}``, the id read from the channel's ``VOXTRA_PLAYBACK``) and has
    no such playback once the cancelled task has returned (404, within 5 s); the caller
    heard the 1000 Hz, and none of it in the last 1.5 s before the app's BYE."""
    app = VoxtraApp(settings(plain_asterisk))
    moments: dict[str, float] = {}
    seen: dict[str, object] = {}

    @app.route()
    async def prompt(call: CallSession) -> None:
        await call.answer()
        playing = asyncio.ensure_future(call.play_file("tone:1000"))
        async with asyncio.timeout(10):
            while not (playback_id := await app.client.channels.get_variable(
                    call.id, PLAYBACK_VARIABLE)):
                await asyncio.sleep(0.05)
            while True:
                with contextlib.suppress(NotFoundError):  # the request may not be in yet
                    playback = await app.client.playbacks.get(playback_id)
                    if playback.state == "playing":
                        break
                await asyncio.sleep(0.05)
        seen["during"] = (playback.state, playback.target_uri)
        await asyncio.sleep(1.0)
        playing.cancel()
        try:
            await playing
        except asyncio.CancelledError:
            seen["cancelled"] = True
        deadline = time.monotonic() + 5  # Asterisk drops it as its thread ends
        while "after" not in seen and time.monotonic() < deadline:
            try:
                await app.client.playbacks.get(playback_id)
            except NotFoundError:
                seen["after"] = "gone"
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)
        moments["hangup"] = time.time()
        seen["channel"] = call.id

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(
            "209", capture_audio=True, wait_for_bye=20))
        await wait_idle(app)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert seen["during"] == ("playing", f"channel:{seen['channel']}")
    assert seen["cancelled"] is True and seen.get("after") == "gone"
    heard = [c.time for c in tone_packets(result.captured, 1000)]
    assert len(heard) * 0.02 >= 0.5, len(heard)  # the caller heard the prompt ...
    assert max(heard) < moments["hangup"] - 1.5, (max(heard), moments)  # ... and it stopped


#: The re-INVITE Asterisk sends when a channel's DTMF mode changes (``PJSIP_DTMF_MODE``
#: drops or adds telephone-event), answered with μ-law alone, then SIP INFO requests.
REINVITE_ANSWERED = """  <recv request="INVITE" timeout="10000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=voxtra 1 2 IN IP[local_ip_type] [local_ip]
      s=voxtra-test
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=ptime:20
      a=sendrecv
    ]]>
  </send>
  <recv request="ACK"/>
"""
INFO_ANSWERED = recv_and_accept("INFO", 10.0) + "\n"


def received_bodies(trace: str, method: str) -> list[tuple[str, str]]:
    """(Content-Type, body) of each ``method`` request in a SIPp ``-trace_msg`` file."""
    found = []
    for block in re.split(r"^-{20,}.*$", trace, flags=re.MULTILINE):
        text = block.strip().replace("\r\n", "\n")
        if not text.startswith("UDP message received"):
            continue
        message = text.split("\n", 1)[1].strip()
        if not message.startswith(f"{method} "):
            continue
        head, _, body = message.partition("\n\n")
        kind = re.search(r"^Content-Type:\s*(.+)$", head, re.MULTILINE | re.IGNORECASE)
        found.append((kind.group(1).strip() if kind else "", body.strip()))
    return found


async def test_send_dtmf_as_sip_info_on_a_channel_in_info_mode(
        plain_asterisk: SandboxState, tmp_path: Path) -> None:
    """README: ``await call.send_dtmf("123")``: "DTMF tones (RFC 4733 or SIP INFO, as
    negotiated)". (RFC 4733 is checked by test_rfc4733_dtmf_both_ways.)

    The plain configuration has one endpoint, in chan_pjsip's default ``rfc4733`` mode,
    and no writable sorcery backend (ARI's dynamic configuration is refused): no endpoint
    can be in ``info`` mode there. Asterisk's own ``PJSIP_DTMF_MODE()``, set through ARI,
    puts this one channel in ``info`` mode instead (Asterisk then re-INVITEs the caller).
    Evidence at the caller (SIPp): three SIP INFO requests, ``application/dtmf-relay``,
    carrying Signal=1, 2, 3 in that order, and no telephone-event RTP."""
    app = VoxtraApp(settings(plain_asterisk))
    modes: list[str | None] = []

    @app.route()
    async def keypad(call: CallSession) -> None:
        await call.answer()
        variable = "PJSIP_DTMF_MODE()"
        modes.append(await app.client.channels.get_variable(call.id, variable))
        await app.client.channels.set_variable(call.id, variable, "info")
        modes.append(await app.client.channels.get_variable(call.id, variable))
        await call.send_dtmf("123")

    scenario = caller_scenario(CallerScript("210", wait_for_bye=20))
    bye = scenario.index('  <recv request="BYE"')
    scenario = scenario[:bye] + REINVITE_ANSWERED + INFO_ANSWERED * 3 + scenario[bye:]
    (tmp_path / "caller.xml").write_text(scenario)
    sip = caller(plain_asterisk)
    media_port = free_rtp_pair()
    async with app:
        result = await with_capture(run_sipp(sip.sipp, tmp_path / "caller.xml", tmp_path,
                                             ["-s", "210", f"{sip.host}:{sip.port}"], 40.0,
                                             media_port), media_port)
        await wait_idle(app)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert modes == ["rfc4733", "info"]  # read back from Asterisk
    infos = received_bodies((tmp_path / "messages.log").read_text(errors="replace"), "INFO")
    assert [kind for kind, _ in infos] == ["application/dtmf-relay"] * 3
    signals = [re.search(r"^Signal=(.+)$", body, re.MULTILINE) for _, body in infos]
    assert [s.group(1).strip() if s else None for s in signals] == ["1", "2", "3"]
    assert not [p for p in result.rtp if p.payload_type == 101]


def ringback_times(result: SippResult) -> list[float]:
    """Capture times of the 0.1 s stretches a SIP party heard North American ringback
    in: 440 Hz and 480 Hz together (``ring = 440+480/2000,0/4000`` in the ``us`` zone,
    indications.conf's default country)."""
    packets = decoded(result.captured, True)
    found = []
    for first in range(0, len(packets) - 4, 5):
        piece = np.concatenate([pcm for _, pcm in packets[first:first + 5]])
        if min(level(piece, 440), level(piece, 480)) > 1000:
            found.append(packets[first][0])
    return found


async def test_a_transfer_target_rings_while_the_caller_hears_ringback_then_they_talk(
        plain_asterisk: SandboxState, tmp_path: Path) -> None:
    """README: ``await call.transfer_to("PJSIP/200", ...)``: "blind transfer through ARI
    alone: the target rings while the caller hears ringback, then they talk".

    The target (SIPp) rings for 1.5 s before its 200 OK, then sends 300 Hz; the answered
    caller sends 700 Hz. Evidence: the caller heard ringback (440 Hz and 480 Hz together:
    the stock ``us`` indication) from before the target answered (the target's first RTP
    packet), none after the target's audio reached it; then the caller heard the target's
    300 Hz and the target the caller's 700 Hz."""
    target = SipCallee(CalleeScript("answer", ring_for=1.5, capture_audio=True,
                                    wait_for_bye=30, audio=wav(tmp_path, "target", 300, 8.0)))
    await target.start()
    app = VoxtraApp(settings(plain_asterisk))

    @app.route()
    async def transfer(call: CallSession) -> None:
        await call.answer()
        await call.transfer_to(f"PJSIP/phone/{target.uri}")

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(
            "211", audio=wav(tmp_path, "caller", 700, 10.0), hangup_after=7,
            capture_audio=True))
        answered = await target.result()
        await wait_idle(app)
    assert result.succeeded and answered.succeeded, (result.stderr, answered.stderr)
    assert answered.received("INVITE") and answered.hung_up_by_remote
    ringback = ringback_times(result)
    assert len(ringback) * 0.1 >= 1.0, ringback  # ringing (1.5 s), less the dial's setup
    target_answered = min(sent_times(answered))
    target_heard = min(c.time for c in tone_packets(result.captured, 300))
    assert min(ringback) < target_answered  # ringback while the target rang ...
    assert max(ringback) < target_heard  # ... and none once they talk
    assert tones(result.heard()).get(300, 0) >= 20
    assert tones(answered.heard()).get(700, 0) >= 20


@pytest.mark.parametrize("ending", ["the target hangs up", "the handler returns"])
async def test_a_transfer_without_hand_off_keeps_the_call_in_the_app(
        plain_asterisk: SandboxState, tmp_path: Path, ending: str) -> None:
    """README: ``transfer_to(...)``: "``hand_off=False`` keeps control". Its docstring:
    "the handler's end hangs up both, and the target hanging up leaves the caller in
    the app (``transfer.ended``)".

    The caller (440 Hz) is connected to the target (300 Hz). Either the target hangs up
    after 2 s: the handler, woken by ``transfer.ended``, plays the caller a 1000 Hz
    prompt at once and waits for its key (5, SIP INFO, pressed later); or the caller presses 5
    while connected: the handler, which was waiting for the key, returns a second
    later. Evidence at the far ends: the two talked (each heard the other's tone); in
    the first case the caller, not hung up with the target, had its key answered and
    heard the prompt after the target's audio, then the app's BYE; in the second both
    got a BYE, the target's after the key reached the handler (its audio ran on past
    that moment).

    (``transfer.ended`` resolves once the caller has left the transfer's bridge: a
    prompt started before that was queued to the dying bridge, never played, and
    ``play_file`` waited for the end of the call.)"""
    hangs_up = ending == "the target hangs up"
    target = SipCallee(CalleeScript(
        "answer", ring_for=0.3, capture_audio=True, wait_for_bye=20,
        hangup_after=2.0 if hangs_up else None, audio=wav(tmp_path, "target", 300, 8.0)))
    await target.start()
    app = VoxtraApp(settings(plain_asterisk))
    moments: dict[str, float] = {}
    got: list[object] = []
    async with PromptServer({"marker": wav_bytes(tone(1000, 1.0))}) as server:

        @app.route()
        async def keep(call: CallSession) -> None:
            await call.answer()
            transfer = await call.transfer_to(f"PJSIP/phone/{target.uri}", hand_off=False,
                                              ringback=None)
            if hangs_up:
                await transfer.ended
                got.append(await call.play_file(server.of("marker")))
                got.append(await call.listen_dtmf(timeout=15))
            else:
                got.append(await call.listen_dtmf(timeout=15))
                moments["key"] = time.time()
                await asyncio.sleep(1.0)  # still connected meanwhile

        async with app:
            result = await caller(plain_asterisk).call(CallerScript(
                "212", audio=wav(tmp_path, "caller", 440, 10.0), wait_for_bye=20, dtmf="5",
                dtmf_delay=4.5 if hangs_up else 2.5, capture_audio=True))
            answered = await target.result()
            await wait_idle(app)
    assert result.succeeded and answered.succeeded, (result.stderr, answered.stderr)
    assert tones(result.heard()).get(300, 0) >= 10  # connected
    assert tones(answered.heard()).get(440, 0) >= 10
    assert result.hung_up_by_remote  # the app hung the caller up in the end
    target_heard = [c.time for c in tone_packets(result.captured, 300)]
    if hangs_up:
        assert not answered.hung_up_by_remote  # the target hung up by itself
        marker = [c.time for c in tone_packets(result.captured, 1000)]
        assert got == [True, "5"] and len(marker) * 0.02 >= 0.8, (got, len(marker))
        assert min(marker) > max(target_heard)  # the caller was still in the app
    else:
        assert got == ["5"] and answered.hung_up_by_remote
        assert max(sent_times(answered)) > moments["key"]  # hung up at the handler's end


def windows(result: SippResult, seconds: float = 0.5) -> list[tuple[float, Pcm]]:
    """What a SIP party received, cut into stretches of ``seconds`` (capture time of
    each stretch's first packet, its audio)."""
    packets = decoded(result.captured, True)
    per = max(1, int(seconds / 0.02))
    return [(packets[i][0], np.concatenate([pcm for _, pcm in packets[i:i + per]]))
            for i in range(0, len(packets) - per + 1, per)]


async def test_cancelling_a_warm_transfer_hangs_up_the_agent_and_takes_the_caller_back(
        plain_asterisk: SandboxState, tmp_path: Path) -> None:
    """README: ``c = await call.consult("PJSIP/agent")``, then ``c.cancel()``: "warm
    transfer: the caller on hold, the app speaks to the agent alone, then ... takes the
    caller back".

    The agent (300 Hz) answers and hears the app's 700 Hz; the app cancels, then plays
    the caller a 1000 Hz prompt and hangs up. Evidence: the agent heard the app and got
    a BYE from Asterisk, its audio ending before the caller's prompt did (so with the
    cancel, not with the end of the call); the caller never heard the agent, heard the
    prompt after the cancel, then the app's BYE."""
    agent = SipCallee(CalleeScript("answer", ring_for=0.3, capture_audio=True, wait_for_bye=30,
                                   audio=wav(tmp_path, "agent", 300, 10.0)))
    await agent.start()
    app = VoxtraApp(settings(plain_asterisk))
    moments: dict[str, float] = {}
    played: list[bool] = []
    async with PromptServer({"back": wav_bytes(tone(1000, 1.5))}) as server:

        @app.route()
        async def warm(call: CallSession) -> None:
            await call.answer()
            consultation = await call.consult(f"PJSIP/phone/{agent.uri}")
            await consultation.send_audio(tone(700, 1.0))
            moments["cancel"] = time.time()
            await consultation.cancel()
            played.append(await call.play_file(server.of("back")))

        async with app:
            result = await caller(plain_asterisk).call(CallerScript(
                "213", audio=wav(tmp_path, "caller", 440, 10.0), capture_audio=True,
                wait_for_bye=20))
            answered = await agent.result()
            await wait_idle(app)
    assert result.succeeded and answered.succeeded, (result.stderr, answered.stderr)
    assert tones(answered.heard()).get(700, 0) >= 7  # the app spoke to the agent
    assert answered.hung_up_by_remote  # ... then Asterisk hung it up
    back = [c.time for c in tone_packets(result.captured, 1000)]
    assert played == [True] and len(back) * 0.02 >= 1.2, (played, len(back))
    assert min(back) > moments["cancel"]
    assert max(sent_times(answered)) < max(back)
    agent_heard = [level(pcm, 300) for _, pcm in windows(result)]
    assert max(agent_heard) < 300, agent_heard  # the caller never heard the agent
    assert result.hung_up_by_remote


async def test_a_warm_transfer_made_a_three_way_call_lets_each_hear_the_other_two(
        plain_asterisk: SandboxState, tmp_path: Path) -> None:
    """README: ``c = await call.consult("PJSIP/agent")``, then ``c.conference()``: "warm
    transfer: ... or makes a three-way call". Its docstring: the target joins the caller
    and the app's audio on the call (it hears both and both hear it).

    The caller sends 440 Hz, the agent 300 Hz, the app 1000 Hz (``play_audio``) while it
    listens (``audio_stream``). Evidence, over the time the app was sending: the caller
    heard 300 Hz and 1000 Hz, the agent 440 Hz and 1000 Hz (their captures), the app
    440 Hz and 300 Hz."""
    agent = SipCallee(CalleeScript("answer", ring_for=0.3, capture_audio=True, wait_for_bye=30,
                                   audio=wav(tmp_path, "agent", 300, 12.0)))
    await agent.start()
    app = VoxtraApp(settings(plain_asterisk))
    moments: dict[str, float] = {}
    app_heard: list[tuple[float, Pcm]] = []

    @app.route()
    async def three_way(call: CallSession) -> None:
        await call.answer()
        consultation = await call.consult(f"PJSIP/phone/{agent.uri}")
        await consultation.conference()

        async def listen() -> None:
            async for chunk in call.audio_stream():
                app_heard.append((time.time(), chunk.pcm))

        listening = asyncio.ensure_future(listen())
        moments["start"] = time.time()
        await call.play_audio(tone(1000, 3.0))
        moments["end"] = time.time()
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(
            "214", audio=wav(tmp_path, "caller", 440, 12.0), capture_audio=True,
            wait_for_bye=25))
        answered = await agent.result()
        await wait_idle(app)
    assert result.succeeded and answered.succeeded, (result.stderr, answered.stderr)
    assert answered.hung_up_by_remote and result.hung_up_by_remote
    start, end = moments["start"] + 0.5, moments["end"]
    caller_heard = heard_between(result, start, end)
    agent_heard = heard_between(answered, start, end)
    app_pcm = [pcm for at, pcm in app_heard if start <= at <= end]
    mixed = np.concatenate(app_pcm) if app_pcm else np.zeros(0, dtype=np.int16)
    levels = {name: {f: round(level(pcm, f)) for f in (300, 440, 1000)}
              for name, pcm in (("caller", caller_heard), ("agent", agent_heard),
                                ("app", mixed))}
    assert min(levels["caller"][300], levels["caller"][1000]) > 1000, levels
    assert min(levels["agent"][440], levels["agent"][1000]) > 1000, levels
    assert min(levels["app"][440], levels["app"][300]) > 1000, levels


async def test_a_supervisor_who_barges_in_is_heard_by_both_and_hears_both(
        plain_asterisk: SandboxState, tmp_path: Path) -> None:
    """README: ``await call.supervise("PJSIP/supervisor", "listen")``: "a supervisor
    listens (or ``whisper``s to the caller alone, or ``barge``s in)"; the docstring:
    ``barge`` joins the call: everyone hears everyone.

    The caller (440 Hz) talks to an agent (300 Hz); a supervisor (800 Hz) barges in for
    3 s. Evidence, over those 3 s: the caller heard 300 Hz and 800 Hz, the agent 440 Hz
    and 800 Hz, the supervisor 440 Hz and 300 Hz (each party's capture); the supervisor
    got a BYE when the supervision ended."""
    agent = SipCallee(CalleeScript("answer", capture_audio=True, wait_for_bye=30,
                                   audio=wav(tmp_path, "agent", 300, 10.0)))
    supervisor = SipCallee(CalleeScript("answer", capture_audio=True, wait_for_bye=30,
                                        audio=wav(tmp_path, "supervisor", 800, 10.0)))
    for callee in (agent, supervisor):
        await callee.start()
    app = VoxtraApp(settings(plain_asterisk))
    moments: dict[str, float] = {}

    @app.route()
    async def supervised(call: CallSession) -> None:
        await call.answer()
        transfer = await call.transfer_to(f"PJSIP/phone/{agent.uri}", ringback=None)
        supervision = await call.supervise(f"PJSIP/phone/{supervisor.uri}", "barge")
        moments["start"] = time.time()
        await asyncio.sleep(3)
        moments["end"] = time.time()
        await supervision.end()
        await transfer.ended

    async with app:
        result = await caller(plain_asterisk).call(CallerScript(
            "215", audio=wav(tmp_path, "caller", 440, 10.0), hangup_after=7,
            capture_audio=True))
        heard_by = {"agent": await agent.result(), "supervisor": await supervisor.result()}
        await wait_idle(app)
        left = await app.client.bridges.list()
    assert result.succeeded and all(r.succeeded for r in heard_by.values())
    assert heard_by["supervisor"].hung_up_by_remote
    start, end = moments["start"] + 0.5, moments["end"]
    levels = {name: {f: round(level(heard_between(r, start, end), f)) for f in (300, 440, 800)}
              for name, r in (("caller", result), *heard_by.items())}
    assert min(levels["caller"][300], levels["caller"][800]) > 1000, levels
    assert min(levels["agent"][440], levels["agent"][800]) > 1000, levels
    assert min(levels["supervisor"][440], levels["supervisor"][300]) > 1000, levels
    assert left == []


async def bridge_members(app: VoxtraApp, bridge_id: str,
                         expected: list[str] | None) -> list[str] | None:
    """The channels in a bridge as ARI reports them (None once it is gone), waiting up
    to 5 s for ``expected``: ARI answers ``GET /bridges/{id}`` from a snapshot cache that
    catches up with a change a moment after the request that made it."""
    deadline = time.monotonic() + 5
    while True:
        try:
            members: list[str] | None = (await app.client.bridges.get(bridge_id)).channels
        except NotFoundError:
            members = None
        if members == expected or time.monotonic() > deadline:
            return members
        await asyncio.sleep(0.1)


async def test_a_conference_mutes_unmutes_lets_members_leave_and_empties(
        plain_asterisk: SandboxState, tmp_path: Path) -> None:
    """README: ``await app.conference("sales").join(call, muted=False)``: "a named
    conference: ``leave``, ``mute``/``unmute`` ...; ``emptied`` resolves when the last one
    leaves".

    Three callers, A (440 Hz), B (300 Hz) and C (800 Hz), join; B is muted, unmuted; C
    leaves (its call goes on in the app); then A leaves, then B. Evidence, phase by phase
    (the callers' captures between the moments each step returned): at first each hears
    the other two; B muted is heard by neither A nor C (who still hear each other), and
    B still hears them; unmuted, B is heard again; C, gone, hears none of A and B while
    A still hears B; Asterisk's conference bridge (ARI) has B alone after A left, and is
    gone once B left, when ``emptied`` has resolved (and not before)."""
    app = VoxtraApp(settings(plain_asterisk))
    room = app.conference("sales")
    members: dict[str, CallSession] = {}
    joined = asyncio.Event()

    @app.route()
    async def conference(call: CallSession) -> None:
        await call.answer()
        await room.join(call, muted=False)
        members[call.called_number] = call
        if len(members) == 3:
            joined.set()
        await call.wait_ended()

    party = {"216": ("a", 440), "217": ("b", 300), "218": ("c", 800)}
    sip = caller(plain_asterisk)
    moments: dict[str, float] = {}
    seen: dict[str, object] = {}
    async with app:
        running = [asyncio.create_task(sip.call(CallerScript(
            number, audio=wav(tmp_path, name, frequency, 15.0), capture_audio=True,
            wait_for_bye=30))) for number, (name, frequency) in party.items()]
        await asyncio.wait_for(joined.wait(), 15)
        a, b, c = members["216"], members["217"], members["218"]
        moments["joined"] = time.time()
        await asyncio.sleep(1.5)
        await room.mute(b)
        moments["muted"] = time.time()
        await asyncio.sleep(1.5)
        await room.unmute(b)
        moments["unmuted"] = time.time()
        await asyncio.sleep(1.5)
        await room.leave(c)
        moments["left"] = time.time()
        await asyncio.sleep(1.5)
        moments["end"] = time.time()
        await room.leave(a)
        seen["emptied after A"] = room.emptied.done()
        seen["in the bridge after A"] = await bridge_members(app, room.bridge_id, [b.id])
        await room.leave(b)
        await asyncio.wait_for(asyncio.shield(room.emptied), 10)
        seen["in the bridge after B"] = await bridge_members(app, room.bridge_id, None)
        for call in (a, b, c):
            await call.hangup()
        results = dict(zip("abc", await asyncio.gather(*running), strict=True))
        await wait_idle(app)
    assert all(r.succeeded and r.hung_up_by_remote for r in results.values()), results

    def heard(name: str, phase: str, until: str) -> dict[int, float]:
        pcm = heard_between(results[name], moments[phase] + 0.4, moments[until])
        return {f: round(level(pcm, f)) for f in (300, 440, 800)}

    phases = {"all": ("joined", "muted"), "b muted": ("muted", "unmuted"),
              "b unmuted": ("unmuted", "left"), "c left": ("left", "end")}
    levels = {(name, phase): heard(name, *span) for name in "abc"
              for phase, span in phases.items()}
    loud, silent = 1000, 300
    for phase in ("all", "b unmuted"):  # each hears the other two
        assert min(levels["a", phase][300], levels["a", phase][800]) > loud, levels
        assert min(levels["b", phase][440], levels["b", phase][800]) > loud, levels
        assert min(levels["c", phase][440], levels["c", phase][300]) > loud, levels
    assert levels["a", "b muted"][300] < silent and levels["a", "b muted"][800] > loud
    assert levels["c", "b muted"][300] < silent and levels["c", "b muted"][440] > loud
    assert min(levels["b", "b muted"][440], levels["b", "b muted"][800]) > loud
    assert max(levels["c", "c left"][440], levels["c", "c left"][300]) < silent
    assert levels["a", "c left"][300] > loud and levels["a", "c left"][800] < silent
    assert seen["emptied after A"] is False
    assert seen["in the bridge after A"] == [b.id]
    assert seen["in the bridge after B"] is None  # the bridge is gone


async def test_a_dial_asterisk_cannot_allocate_has_the_outcome_failed(
        plain_asterisk: SandboxState, caplog: pytest.LogCaptureFixture) -> None:
    """README: ``app.originate``: "``await call.outcome`` is ... failed", also for a dial
    Asterisk refuses before any signalling: an endpoint it does not have (ARI answers
    the originate with HTTP 500 "Allocation failed"). The campaign or handler gets an
    outcome, not an exception; the handler never runs."""
    handled: list[CallSession] = []
    app = VoxtraApp(settings(plain_asterisk))

    async def greet(call: CallSession) -> None:
        handled.append(call)

    async with app:
        call = await app.originate("PJSIP/nosuchendpoint", handler=greet, timeout=10)
        outcome = await asyncio.wait_for(asyncio.shield(call.outcome), 10)
        await asyncio.wait_for(call.wait_ended(), 10)
    assert outcome is Outcome.FAILED and handled == [] and call.id not in app.calls
    assert "Asterisk refused the dial" in caplog.text


async def test_a_forbidden_request_says_so_not_that_the_password_is_wrong(
        plain_asterisk: SandboxState) -> None:
    """ARI answers 403 to a request its user may not make (here dynamic configuration,
    which a stock Asterisk has no writable backend for): the error names the request,
    not the credentials, which were accepted."""
    app = VoxtraApp(settings(plain_asterisk))
    async with app:
        await app.client.asterisk.info()  # the credentials are good
        with pytest.raises(AriAuthError) as caught:
            await app.client.request(
                "PUT", "/asterisk/config/dynamic/res_pjsip/endpoint/voxtra-probe",
                json={"fields": [{"attribute": "context", "value": "default"}]})
    assert "HTTP 403" in str(caught.value) and "forbids" in str(caught.value)
    assert "password" not in str(caught.value)
