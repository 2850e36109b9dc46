"""The SIP test tools against the real Asterisk: audio heard, DTMF sent, calls answered.

Relies on: ARI ``POST /channels/{id}/play`` with ``tone:FREQ`` media plays a
sine until the playback is stopped; SIP INFO ``application/dtmf-relay``
digits raise ``ChannelDtmfReceived`` (pjsip ``dtmf_mode=auto_info``); ARI
``POST /channels`` with ``app=`` dials an endpoint and the answered leg enters
Stasis; hangup cause 17 is "user busy".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid

import numpy as np

from voxtra.app import VoxtraApp
from voxtra.ari.client import AriClient
from voxtra.call.session import CallSession
from voxtra.sandbox.asterisk import AsteriskSandbox
from voxtra.sandbox.audio import dominant_frequency
from voxtra.sandbox.scenarios import CalleeScript, CallerScript
from voxtra.sandbox.sipp import SipCallee, SipCaller
from voxtra.settings import VoxtraSettings

SOUNDS = "/usr/share/asterisk/sounds/en_US_f_Allison"


def gsm_seconds(sandbox: AsteriskSandbox, sound: str) -> float:
    """A GSM prompt's length: GSM 06.10 frames are 33 bytes per 20 ms."""
    return os.path.getsize(sandbox.host_path(f"{SOUNDS}/{sound}.gsm")) / 33 * 0.020




async def test_caller_hears_the_prompt(voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
                                       asterisk_sandbox: AsteriskSandbox) -> None:
    app = VoxtraApp(voxtra_settings)

    @app.route()
    async def prompt(call: CallSession) -> None:
        await call.answer()
        with contextlib.suppress(TimeoutError):  # a tone plays until stopped
            await asyncio.wait_for(call.play_file("tone:1004"), 0.6)
        await call.play_file("sound:hello-world")

    async with app:
        result = await sip_caller.call(CallerScript("300", capture_audio=True))

    assert result.succeeded and result.hung_up_by_remote, result.stderr
    heard = result.heard()
    # The tone: the first 0.5 s of audio is a 1004 Hz sine (one FFT bin is 2 Hz).
    assert abs(dominant_frequency(heard[400:4000]) - 1004) < 10
    # The prompt follows, played to its end.
    prompt_seconds = gsm_seconds(asterisk_sandbox, "hello-world")
    speech = heard[4800:]
    # Hanging up right after play_file must not cut the prompt's end (one frame of slack).
    assert len(speech) / 8000 >= prompt_seconds - 0.02
    assert np.sqrt(np.mean(speech.astype(np.float64) ** 2)) > 300


async def test_dtmf_from_the_caller_reaches_the_app(voxtra_settings: VoxtraSettings,
                                                    sip_caller: SipCaller) -> None:
    digits: list[str | None] = []
    app = VoxtraApp(voxtra_settings)

    @app.route()
    async def collect(call: CallSession) -> None:
        await call.answer()
        for _ in range(4):
            digits.append(await call.listen_dtmf(timeout=5))

    async with app:
        result = await sip_caller.call(CallerScript("400", dtmf="19*#", dtmf_delay=0.2))

    assert result.succeeded, result.stderr
    assert digits == ["1", "9", "*", "#"]


async def _dial(client: AriClient, app_name: str, callee: SipCallee) -> str:
    channel_id = f"test-{uuid.uuid4().hex}"
    await client.channels.originate(f"PJSIP/loopback/{callee.uri}", app=app_name,
                                    channel_id=channel_id, timeout=3)
    return channel_id


async def test_callee_answers_and_refuses(voxtra_settings: VoxtraSettings) -> None:
    password = voxtra_settings.ari_password.get_secret_value()
    async with AriClient(voxtra_settings.ari_url, voxtra_settings.ari_user, password) as client:
        answering = SipCallee(CalleeScript("answer", hangup_after=0.5))
        busy = SipCallee(CalleeScript("busy"))
        silent = SipCallee(CalleeScript("no-answer"))
        for callee in (answering, busy, silent):
            await callee.start()
        app = VoxtraApp(voxtra_settings)

        @app.route()
        async def answered_leg(call: CallSession) -> None:
            await call.wait_ended()  # the callee hangs up

        async with app:
            for callee in (answering, busy, silent):
                await _dial(client, app.app_name, callee)
            results = await asyncio.gather(answering.result(), busy.result(), silent.result())
    answered, refused, rang = results
    assert answered.succeeded and not answered.hung_up_by_remote, answered.stderr
    assert refused.succeeded, refused.stderr
    assert any(m.start_line.startswith("SIP/2.0 486") for m in refused.messages
               if m.direction == "sent")
    assert rang.succeeded and rang.received("CANCEL"), rang.stderr
