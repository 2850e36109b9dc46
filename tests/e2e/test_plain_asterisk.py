"""Voxtra against an Asterisk configured by somebody else.

The ``plain_asterisk`` sandbox is Debian's stock configuration with one endpoint
(``phone``, calls from 127.0.0.1), ``exten => _X.,1,Stasis(voxtra-plain)`` and ARI
enabled: no Voxtra contexts, no ``spool/recording`` directory. Protocol facts relied on:
an originated channel's events reach the originating ARI application before it is
answered and it enters Stasis when answered; a SIP 486 becomes Q.850 cause 17 and an
unanswered dial that times out ends with cause 19 (or 18); a BYE from Asterisk ends the
caller's dialog.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
from voxtra.capabilities import missing_requirements
from voxtra.errors import DialplanError
from voxtra.media.g711 import Pcm
from voxtra.recording.recorder import RecordingError
from voxtra.testing.audio import dominant_frequency, tone, tones, write_ulaw_wav
from voxtra.testing.prompts import PromptServer, wav_bytes
from voxtra.testing.sandbox import SandboxState
from voxtra.testing.sipp import CalleeScript, CallerScript, SipCallee, SipCaller
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



async def test_continuing_to_a_missing_dialplan_place_is_refused_not_a_dropped_call(
        plain_asterisk: SandboxState) -> None:
    app = VoxtraApp(settings(plain_asterisk))
    errors: list[DialplanError] = []
    played: list[bool] = []

    @app.route()
    async def to_queue(call: CallSession) -> None:
        await call.answer()
        try:
            await call.transfer_to_queue("support")  # no voxtra-transfer context here
        except DialplanError as error:
            errors.append(error)
        played.append(await call.play_file("sound:beep"))  # the caller is still here

    async with app:
        result = await caller(plain_asterisk).call(CallerScript("208"))
        await wait_idle(app)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert len(errors) == 1 and "voxtra-transfer" in str(errors[0])
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
