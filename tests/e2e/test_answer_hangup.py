"""End to end: SIPp calls the sandbox Asterisk, a Voxtra handler answers and hangs up."""

from __future__ import annotations

import asyncio

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession, CallState
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings


async def test_handler_answers_and_hangs_up(voxtra_settings: VoxtraSettings,
                                            sip_caller: SipCaller) -> None:
    seen: list[CallSession] = []
    hung_up: list[str] = []

    app = VoxtraApp(voxtra_settings)

    @app.route(did="100")
    async def hello(call: CallSession) -> None:
        seen.append(call)
        call.on_hangup(lambda c: hung_up.append(c.id))
        await call.answer()
        assert call.state is CallState.IN_PROGRESS
        await asyncio.sleep(0.5)
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript("100", caller_id="5551234"))
        await asyncio.wait_for(seen[0].wait_ended(), 5)

    assert result.succeeded, result.stderr
    assert result.answered
    assert result.hung_up_by_remote
    assert len(seen) == 1
    call = seen[0]
    assert call.called_number == "100"
    assert call.caller_id == "5551234"
    assert call.state is CallState.COMPLETED
    assert call.hangup_cause == 16
    assert call.duration >= 0.5
    assert hung_up == [call.id]


async def test_caller_hangs_up_first(voxtra_settings: VoxtraSettings,
                                     sip_caller: SipCaller) -> None:
    seen: list[CallSession] = []
    app = VoxtraApp(voxtra_settings)

    @app.route()
    async def waits(call: CallSession) -> None:
        seen.append(call)
        await call.answer()
        await call.wait_ended()

    async with app:
        result = await sip_caller.call(CallerScript("200", hangup_after=0.5))
        await asyncio.wait_for(seen[0].wait_ended(), 5)

    assert result.succeeded, result.stderr
    assert result.answered
    assert not result.hung_up_by_remote
    assert seen[0].state is CallState.COMPLETED
    assert seen[0].hangup_cause == 16  # normal clearing, from the caller's BYE


async def test_unrouted_call_is_refused(voxtra_settings: VoxtraSettings,
                                        sip_caller: SipCaller) -> None:
    app = VoxtraApp(voxtra_settings)

    @app.route(did="100")
    async def only_100(call: CallSession) -> None:
        await call.answer()

    async with app:
        result = await sip_caller.call(CallerScript("999", expect_status=404))

    assert result.succeeded, result.stderr
    assert result.final_status == 404, [(m.direction, m.start_line) for m in result.messages]
    assert not result.answered
