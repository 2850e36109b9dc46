"""CallSession verbs as a caller experiences them, through the sandbox Asterisk.

Protocol facts relied on: music on hold is audible RTP to the held party; ARI
``continue`` moves a channel out of Stasis into the dialplan (``StasisEnd``);
Dial() and Queue() ring SIP URIs through the loopback endpoint; a hangup cause
of 17 means user busy and 19 no answer (Q.850); RFC 4733 DTMF is RTP payload
type 101 with the event code in the first payload byte.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession, CallState, Direction, Outcome
from voxtra.sandbox.asterisk import AsteriskSandbox
from voxtra.sandbox.audio import (
    audible_spans,
    dominant_frequency,
    rms,
    tone,
    tone_packets,
    write_ulaw_wav,
)
from voxtra.sandbox.scenarios import CalleeScript, CallerScript
from voxtra.sandbox.sipp import SipCallee, SipCaller
from voxtra.settings import VoxtraSettings


async def test_routing_by_did_pattern_header_and_default(voxtra_settings: VoxtraSettings,
                                                         sip_caller: SipCaller) -> None:
    routed: dict[str, tuple[str, dict[str, object]]] = {}
    app = VoxtraApp(voxtra_settings)

    def handler(name: str):  # type: ignore[no-untyped-def]
        async def handle(call: CallSession) -> None:
            routed[call.called_number + "/" + name] = (name, dict(call.metadata))
            await call.answer()
        handle.__name__ = name
        return handle

    app.route(did="+1 555 0100", team="sales")(handler("did"))
    app.route(pattern="_9XX")(handler("pattern"))
    app.route(header={"X-Room-ID": "room-42"}, priority=5)(handler("header"))
    app.route()(handler("default"))
    async with app:
        results = await asyncio.gather(
            sip_caller.call(CallerScript("+15550100")),
            sip_caller.call(CallerScript("915")),
            sip_caller.call(CallerScript("700", headers={"X-Room-ID": "room-42"})),
            sip_caller.call(CallerScript("700", headers={"X-Room-ID": "room-7"})),
        )
    assert all(r.succeeded and r.answered for r in results), [r.stderr for r in results]
    assert routed == {
        "+15550100/did": ("did", {"team": "sales"}),
        "915/pattern": ("pattern", {}),
        "700/header": ("header", {}),
        "700/default": ("default", {}),
    }


async def test_unmatched_call_can_hear_a_prompt(voxtra_settings: VoxtraSettings,
                                                sip_caller: SipCaller) -> None:
    settings = voxtra_settings.model_copy(update={"unmatched_action": "announce"})
    app = VoxtraApp(settings)
    app.route(did="100")(lambda call: call.answer())  # type: ignore[arg-type,return-value]
    async with app:
        result = await sip_caller.call(CallerScript("555", capture_audio=True))
    assert result.succeeded and result.answered and result.hung_up_by_remote
    assert rms(result.heard()) > 300  # the ss-noservice prompt


async def test_hold_plays_music_then_unhold(voxtra_settings: VoxtraSettings,
                                            sip_caller: SipCaller) -> None:
    states: list[CallState] = []
    app = VoxtraApp(voxtra_settings)

    @app.route()
    async def hold_then_release(call: CallSession) -> None:
        await call.answer()
        await call.hold()
        states.append(call.state)
        await asyncio.sleep(1.5)
        await call.unhold()
        states.append(call.state)
        await asyncio.sleep(0.5)

    async with app:
        result = await sip_caller.call(CallerScript("800", capture_audio=True))
    assert result.succeeded, result.stderr
    assert states == [CallState.ON_HOLD, CallState.IN_PROGRESS]
    heard = result.heard()
    assert len(heard) >= 1.2 * 8000  # RTP all through the hold
    assert rms(heard) > 20  # music (tracks start softly), not digital silence (|x| <= 8)


async def test_blind_transfer_to_another_sip_endpoint(voxtra_settings: VoxtraSettings,
                                                      sip_caller: SipCaller) -> None:
    callee = SipCallee(CalleeScript("answer", hangup_after=1.0))
    await callee.start()
    ended: list[str] = []
    app = VoxtraApp(voxtra_settings)

    @app.route()
    async def transfer(call: CallSession) -> None:
        call.on_hangup(lambda c: ended.append(c.id))
        await call.answer()
        await call.transfer_to(f"PJSIP/loopback/{callee.uri}")  # returns once bridged

    async with app:
        result = await sip_caller.call(CallerScript("801", wait_for_bye=15))
        answered = await callee.result()
        async with asyncio.timeout(5):
            while app.calls:
                await asyncio.sleep(0.05)
    assert answered.succeeded, answered.stderr
    # The callee hung up after a second: the handed-off caller got a BYE then, not before.
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert len(ended) == 1


async def test_transfer_to_the_test_queue(voxtra_settings: VoxtraSettings,
                                          sip_caller: SipCaller,
                                          asterisk_sandbox: AsteriskSandbox) -> None:
    agent_port = urlparse(asterisk_sandbox.options.queue_agent_uri.replace("sip:", "sip://"))
    agent = SipCallee(CalleeScript("answer", hangup_after=1.0), port=agent_port.port or 0)
    await agent.start()
    app = VoxtraApp(voxtra_settings)

    @app.route()
    async def to_queue(call: CallSession) -> None:
        await call.answer()
        await call.transfer_to_queue("voxtra-test")

    async with app:
        result = await sip_caller.call(CallerScript("802", wait_for_bye=20))
        answered = await agent.result()
    assert answered.succeeded, answered.stderr
    assert result.succeeded and result.hung_up_by_remote, result.stderr


async def test_gather_finish_key_timeout_and_menu(voxtra_settings: VoxtraSettings,
                                                  sip_caller: SipCaller) -> None:
    got: dict[str, object] = {}
    app = VoxtraApp(voxtra_settings)

    @app.route(did="810")
    async def finish_key(call: CallSession) -> None:
        await call.answer()
        got["finish"] = await call.gather(5, finish_on_key="#", prompt="sound:hello-world")

    @app.route(did="811")
    async def inter_digit_timeout(call: CallSession) -> None:
        await call.answer()
        loop = asyncio.get_running_loop()
        began = loop.time()
        got["timeout"] = await call.gather(timeout=1.0)
        got["waited"] = loop.time() - began
        got["up"] = not call.ended
        await call.wait_ended()

    @app.route(did="812")
    async def menu(call: CallSession) -> None:
        await call.answer()
        got["menu"] = await call.menu("sound:hello-world", "12", timeout=3)

    async with app:
        results = await asyncio.gather(
            sip_caller.call(CallerScript("810", dtmf="12#", dtmf_delay=0.3)),
            sip_caller.call(CallerScript("811", dtmf="4", dtmf_delay=0.3, hangup_after=4.0)),
            sip_caller.call(CallerScript("812", dtmf="92", dtmf_delay=0.5)),
        )
    assert all(r.succeeded for r in results), [r.stderr for r in results]
    assert got["finish"] == "12"
    # The 1 s timeout ended it: no sooner, and while the call was still up (the caller
    # hangs up 4 s after its key; a gather that missed its timeout would wait until then).
    assert got["timeout"] == "4" and float(got["waited"]) >= 1.0  # type: ignore[arg-type]
    assert got["up"] is True
    assert got["menu"] == "2"


TIMEOUT = 4.0


async def test_the_first_key_stops_gathers_prompt(voxtra_settings: VoxtraSettings,
                                                 sip_caller: SipCaller) -> None:
    """The caller hears the prompt (a tone that never ends by itself) until their first
    key, and not after. Protocol facts relied on: the caller's RTP capture has a time
    for every packet; SIPp sends the RFC 4733 digits after its pauses."""
    got: dict[str, object] = {}
    app = VoxtraApp(voxtra_settings)

    @app.route(did="813")
    async def prompt_then_digits(call: CallSession) -> None:
        await call.answer()
        got["digits"] = await call.gather(3, timeout=TIMEOUT, prompt="tone:440")
        got["returned"] = time.time()  # the clock of the capture's times
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript("813", dtmf="1", dtmf_delay=1.5,
                                                    dtmf_mode="rfc4733", capture_audio=True,
                                                    wait_for_bye=15))
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert got["digits"] == "1"
    # When the caller sent its key: its first RFC 4733 event packet.
    key = min(c.time for c in result.captured if not c.received and c.packet.payload_type == 101)
    # The timeout ran from the key, not from the start of the prompt.
    assert float(got["returned"]) - key >= TIMEOUT  # type: ignore[arg-type]
    heard = audible_spans(tone_packets(result.captured, 440), received=True)
    assert heard, "the prompt was not heard"
    # Heard until the key (its stop can only follow it); not after it, though the call
    # went on: stopped by the key, long before the timeout after it would have.
    assert heard[0][0] < key <= heard[-1][1] < key + TIMEOUT / 2, (heard, key)


async def test_send_dtmf_reaches_the_caller(voxtra_settings: VoxtraSettings,
                                            sip_caller: SipCaller) -> None:
    app = VoxtraApp(voxtra_settings)

    @app.route()
    async def send(call: CallSession) -> None:
        await call.answer()
        await call.send_dtmf("159")
        await asyncio.sleep(1.0)

    async with app:
        result = await sip_caller.call(CallerScript("820", capture_audio=True))
    assert result.succeeded, result.stderr
    assert {p.payload[0] for p in result.rtp if p.payload_type == 101} == {1, 5, 9}


async def test_bridge_carries_audio_between_two_callers(voxtra_settings: VoxtraSettings,
                                                        sip_caller: SipCaller,
                                                        tmp_path: Path) -> None:
    talker_wav = write_ulaw_wav(tmp_path / "talker.wav", tone(440, 3.0))
    first: asyncio.Future[CallSession] = asyncio.get_running_loop().create_future()
    bridges: list[str] = []
    app = VoxtraApp(voxtra_settings)

    @app.route(did="830")
    async def talker(call: CallSession) -> None:
        await call.answer()
        first.set_result(call)
        await call.wait_ended()

    @app.route(did="831")
    async def listener(call: CallSession) -> None:
        await call.answer()
        bridges.append(await call.bridge_with(await first))
        await call.wait_ended()

    async with app:
        talking = asyncio.create_task(sip_caller.call(
            CallerScript("830", audio=talker_wav, hangup_after=4.0)))
        await asyncio.wait_for(asyncio.shield(first), 10)
        listening = await sip_caller.call(
            CallerScript("831", hangup_after=2.5, capture_audio=True))
        await talking
        async with asyncio.timeout(5):
            while app.bridges.active:
                await asyncio.sleep(0.05)
        remaining = {b.id for b in await app.client.bridges.list()}
    heard = listening.heard()
    assert len(heard) > 8000
    assert abs(dominant_frequency(heard[-8000:]) - 440) < 10
    assert bridges and bridges[0] not in remaining  # destroyed when it emptied


async def test_originate_reports_every_outcome(voxtra_settings: VoxtraSettings) -> None:
    answering = SipCallee(CalleeScript("answer", ring_for=0.3))
    busy = SipCallee(CalleeScript("busy"))
    silent = SipCallee(CalleeScript("no-answer"))
    for callee in (answering, busy, silent):
        await callee.start()
    handled: list[CallSession] = []
    app = VoxtraApp(voxtra_settings)

    async def greet(call: CallSession) -> None:
        handled.append(call)
        await call.play_file("sound:hello-world")

    async with app:
        calls = [await app.originate(f"PJSIP/loopback/{c.uri}", handler=greet,
                                     caller_id="Voxtra <5550100>", timeout=3)
                 for c in (answering, busy, silent)]
        assert all(c.direction is Direction.OUTBOUND for c in calls)
        outcomes = await asyncio.wait_for(asyncio.gather(*(c.outcome for c in calls)), 15)
        await asyncio.wait_for(asyncio.gather(*(c.wait_ended() for c in calls)), 15)
        results = await asyncio.gather(*(c.result() for c in (answering, busy, silent)))
    assert outcomes == [Outcome.ANSWERED, Outcome.BUSY, Outcome.NO_ANSWER]
    assert [c.hangup_cause for c in calls[1:]] == [17, 19]
    assert handled == [calls[0]] and calls[0].state is CallState.COMPLETED
    assert calls[1].state is CallState.FAILED and calls[2].state is CallState.FAILED
    assert all(r.succeeded for r in results), [r.stderr for r in results]
    assert results[0].hung_up_by_remote  # the app hung up after the greeting


async def test_call_originate_is_app_originate(voxtra_settings: VoxtraSettings,
                                               sip_caller: SipCaller) -> None:
    """A handler places a second call from the call it handles: the same operation as
    ``app.originate``, its outcome and handler included."""
    callee = SipCallee(CalleeScript("answer", ring_for=0.2))
    await callee.start()
    app = VoxtraApp(voxtra_settings)
    reached: list[str] = []

    async def greet(call: CallSession) -> None:
        reached.append(call.direction)
        await call.hangup()

    @app.route()
    async def callback(call: CallSession) -> None:
        await call.answer()
        placed = await call.originate(f"PJSIP/loopback/{callee.uri}", handler=greet,
                                      timeout=5)
        reached.append(await placed.outcome)
        await placed.wait_ended()
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript("850", wait_for_bye=15))
    assert result.hung_up_by_remote
    assert reached == [Outcome.ANSWERED, Direction.OUTBOUND]
    assert (await callee.result()).succeeded


@pytest.mark.parametrize("ending", ["caller", "handler", "transfer", "shutdown",
                                    pytest.param("error", marks=pytest.mark.expected_errors)])
async def test_on_hangup_runs_exactly_once(ending: str, voxtra_settings: VoxtraSettings,
                                           sip_caller: SipCaller) -> None:
    fired: list[tuple[str, int]] = []
    entered = asyncio.Event()
    callee = SipCallee(CalleeScript("answer", hangup_after=0.5))
    if ending == "transfer":
        await callee.start()
    app = VoxtraApp(voxtra_settings.model_copy(update={"shutdown_grace": 0.5}))

    @app.route()
    async def handler(call: CallSession) -> None:
        call.on_hangup(lambda c: fired.append(("first", len(fired))))
        call.on_hangup(lambda c: fired.append(("second", len(fired))))
        await call.answer()
        entered.set()
        if ending == "handler":
            await call.hangup()
        elif ending == "transfer":
            await call.transfer_to(f"PJSIP/loopback/{callee.uri}")
        elif ending == "error":
            raise RuntimeError("boom")
        await call.wait_ended()

    script = CallerScript("840", hangup_after=0.5 if ending == "caller" else None,
                          wait_for_bye=15)
    await app.start()
    caller = asyncio.create_task(sip_caller.call(script))
    await asyncio.wait_for(entered.wait(), 10)
    if ending == "shutdown":
        await app.stop()
        result = await caller
    else:
        result = await caller
        async with asyncio.timeout(5):
            while app.calls:
                await asyncio.sleep(0.05)
        await app.stop()
    if ending == "transfer":
        await callee.result()
    assert result.succeeded, result.stderr
    assert fired == [("first", 0), ("second", 1)]
