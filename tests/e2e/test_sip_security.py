"""The bundled SIP configuration under a caller who lies, through the sandbox Asterisk.

Protocol facts relied on: with ``endpoint_identifier_order = ip`` chan_pjsip matches a
request to an endpoint by its source address only, and answers an unidentified INVITE
with 401 (a challenge that reveals nothing); with ``allow_transfer = no`` it answers a
REFER with 603 Decline; another loopback address (127.0.0.2) is another host to it.
"""

from __future__ import annotations

import asyncio

from voxtra import CallSession, VoxtraApp, VoxtraSettings
from voxtra.sandbox.asterisk import SandboxState
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller


async def test_a_from_header_naming_the_endpoint_does_not_identify_a_stranger(
        voxtra_settings: VoxtraSettings, sandbox_state: SandboxState) -> None:
    app = VoxtraApp(voxtra_settings)
    reached: list[str] = []

    @app.route()
    async def handler(call: CallSession) -> None:
        reached.append(call.caller_id)
        await call.answer()

    stranger = SipCaller(sandbox_state.sip_host, sandbox_state.sip_port, local_ip="127.0.0.2")
    async with app:
        # From: <sip:loopback@...>, the endpoint's own name, from an address it has not.
        result = await stranger.call(CallerScript("100", caller_id="loopback",
                                                  expect_status=401))
        await asyncio.sleep(0.5)
    assert result.succeeded, result.stderr
    assert reached == []


async def test_a_caller_cannot_make_the_pbx_dial_with_a_refer(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller) -> None:
    app = VoxtraApp(voxtra_settings)
    channels_during: list[int] = []

    @app.route()
    async def handler(call: CallSession) -> None:
        await call.answer()
        await asyncio.sleep(1.5)
        channels_during.append(len(await app.client.channels.list()))
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript(
            "101", refer_to="sip:5550123@127.0.0.1", refer_status=603, wait_for_bye=10))
    assert result.succeeded, result.stderr  # 603 Decline to the REFER, then the app's BYE
    assert result.hung_up_by_remote
    assert channels_during == [1]  # no Local/... channel dialling 5550123


async def test_with_no_app_running_a_call_gets_503_so_a_balancer_tries_elsewhere(
        sip_caller: SipCaller) -> None:
    # No VoxtraApp is connected: Stasis() fails, the dialplan hangs up with cause 34.
    result = await sip_caller.call(CallerScript("100", expect_status=503))
    assert result.succeeded, result.stderr
