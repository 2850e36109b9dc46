"""The control plane survives what real deployments do to it.

Protocol facts relied on: Asterisk keeps channels in Stasis while the app's
websocket is away and lists them in ``GET /applications/{app}`` (channel_ids);
a second websocket for the same app name takes it over and the first receives
``ApplicationReplaced``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import pytest
from pydantic import SecretStr

from voxtra.app import VoxtraApp
from voxtra.ari.errors import ApplicationReplacedError, AriAuthError
from voxtra.call.session import CallSession
from voxtra.call.state import CallState
from voxtra.retry import Backoff
from voxtra.sandbox.asterisk import AsteriskSandbox
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings


async def test_reconnects_after_asterisk_crash_and_keeps_serving(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
        asterisk_sandbox: AsteriskSandbox) -> None:
    calls: list[CallSession] = []
    ended: list[str] = []
    app = VoxtraApp(voxtra_settings)

    @app.route()
    async def hold_the_line(call: CallSession) -> None:
        calls.append(call)
        call.on_hangup(lambda c: ended.append(c.id))
        await call.answer()
        await call.wait_ended()

    async with app:
        stream = app.stream
        assert stream is not None
        stream.backoff = Backoff(base=0.1, cap=0.5)
        first = asyncio.create_task(sip_caller.call(
            CallerScript("600", wait_for_bye=20), timeout=20))
        async with asyncio.timeout(10):
            while not calls:
                await asyncio.sleep(0.05)
        # A crash: Asterisk dies without a word (no StasisEnd), then comes back.
        state = asterisk_sandbox.current
        assert state is not None
        os.kill(state.pid, signal.SIGKILL)
        await asyncio.to_thread(asterisk_sandbox.stop)  # reaps it, clears the state
        await asyncio.sleep(1.5)  # Asterisk is away: the stream keeps retrying
        await asyncio.to_thread(asterisk_sandbox.start)
        async with asyncio.timeout(15):
            await stream.connected.wait()
            while stream.stats.connects < 2:
                await asyncio.sleep(0.05)
        assert stream.stats.failed_attempts >= 3  # several backoff rounds while down
        reconcile = stream.last_reconcile
        assert reconcile is not None and calls[0].id in reconcile.gone
        await asyncio.wait_for(calls[0].wait_ended(), 5)
        assert ended == [calls[0].id]
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        second = await sip_caller.call(CallerScript("601", hangup_after=0.3))
    assert second.succeeded and second.answered, second.stderr
    assert len(calls) == 2


async def test_new_process_adopts_calls_left_in_stasis(voxtra_settings: VoxtraSettings,
                                                       sip_caller: SipCaller) -> None:
    answered = asyncio.Event()
    crashed = VoxtraApp(voxtra_settings)

    @crashed.route()
    async def answers_then_dies(call: CallSession) -> None:
        await call.answer()
        answered.set()
        await asyncio.sleep(3600)

    await crashed.start()
    caller = asyncio.create_task(sip_caller.call(CallerScript("602", wait_for_bye=15)))
    await asyncio.wait_for(answered.wait(), 10)
    # A crash: the websocket goes away, nothing is hung up or cleaned.
    assert crashed.stream is not None and crashed._stream_task is not None
    crashed._stream_task.cancel()
    for call in crashed.calls.values():
        for task in [*call.tasks, call.consumer]:
            if task is not None:
                task.cancel()
    await crashed.client.close()
    crashed.watchdog.stop()  # the process is gone, its threads and tasks with it
    crashed.loop_load.stop()
    if crashed._load_task is not None:
        crashed._load_task.cancel()

    adopted: list[CallSession] = []
    successor = VoxtraApp(voxtra_settings)

    @successor.route()
    async def finishes(call: CallSession) -> None:
        adopted.append(call)
        await call.hangup()

    async with successor:
        result = await caller
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert len(adopted) == 1 and adopted[0].called_number == "602"
    assert adopted[0].state is CallState.COMPLETED


async def test_second_connection_with_the_same_app_name_stops_the_first(
        voxtra_settings: VoxtraSettings) -> None:
    first = VoxtraApp(voxtra_settings)
    second = VoxtraApp(voxtra_settings)
    await first.start()
    try:
        await second.start()
        assert first._stream_task is not None
        with pytest.raises(ApplicationReplacedError, match="took over"):
            await asyncio.wait_for(first._stream_task, 10)
    finally:
        await second.stop()
        await first.stop()


async def test_credentials_never_reach_logs_reprs_or_errors(
        voxtra_settings: VoxtraSettings, caplog: pytest.LogCaptureFixture) -> None:
    secret = "wrong-secret-value-123"
    settings = voxtra_settings.model_copy(update={"ari_password": SecretStr(secret)})
    app = VoxtraApp(settings)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AriAuthError) as caught:
        await app.start()
    await app.stop()
    real = voxtra_settings.ari_password.get_secret_value()
    for text in (caplog.text, str(caught.value), repr(app.client), repr(settings),
                 repr(voxtra_settings), str(settings.model_dump())):
        assert secret not in text and real not in text


async def test_stopping_while_asterisk_is_dead_does_not_wait_out_the_grace(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
        asterisk_sandbox: AsteriskSandbox) -> None:
    playing = asyncio.Event()
    grace = 30.0
    app = VoxtraApp(voxtra_settings.model_copy(update={"shutdown_grace": grace}))

    @app.route()
    async def prompt(call: CallSession) -> None:
        await call.answer()
        playback = asyncio.ensure_future(call.play_file("tone:ring"))  # until stopped
        await asyncio.sleep(0.5)
        playing.set()
        await playback

    await app.start()
    caller = asyncio.create_task(sip_caller.call(CallerScript("601", wait_for_bye=20),
                                                 timeout=20))
    try:
        await asyncio.wait_for(playing.wait(), 10)
        state = asterisk_sandbox.current
        assert state is not None
        os.kill(state.pid, signal.SIGKILL)
        await asyncio.to_thread(asterisk_sandbox.stop)
        async with asyncio.timeout(5):
            while app.stream is not None and app.stream.connected.is_set():
                await asyncio.sleep(0.05)
        began = asyncio.get_running_loop().time()
        await app.stop()
        took = asyncio.get_running_loop().time() - began
    finally:
        caller.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await caller
        await asyncio.to_thread(asterisk_sandbox.start)
    # Not waiting out the grace (nothing can finish with Asterisk gone): well short of it.
    assert took < grace / 2, took
    assert not app.calls
