"""Asterisk killed or restarted under live calls, again and again: the app reconnects,
ends each lost call exactly once, and keeps nothing of them.

Protocol facts relied on: a SIGKILLed Asterisk sends nothing (no StasisEnd);
``core restart now`` hangs every channel up and re-executes Asterisk; after either,
``GET /applications/{app}`` lists no channel of the app, so the reconcile after the
reconnect ends every call the app still tracked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from voxtra import CallSession, VoxtraApp, VoxtraSettings
from voxtra.retry import Backoff
from voxtra.sandbox.asterisk import AsteriskSandbox, SandboxOptions
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller, SippResult

ROUNDS = 10  # alternately SIGKILL and `core restart now`
CALLS = 2


@pytest.fixture
def own_sandbox() -> Iterator[AsteriskSandbox]:
    """An Asterisk of this test's own: killing it disturbs no other test."""
    options = SandboxOptions(name=f"chaos-{os.getpid()}", ari_port=free_port(),
                             sip_port=free_port(socket.SOCK_DGRAM), rtp_start=4000,
                             rtp_end=4999)
    sandbox = AsteriskSandbox(options)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop(keep_files=bool(os.environ.get("VOXTRA_SANDBOX_KEEP")))


async def unanswered(number: int, callers: list[asyncio.Task[SippResult]],
                     sandbox: AsteriskSandbox, app: VoxtraApp) -> str:
    """What is known when a round's calls went unanswered: what SIPp saw, what Asterisk
    holds and logged, what the app's event stream did."""
    done, _ = await asyncio.wait(callers, timeout=15)  # SIPp gives up after 30 s itself
    seen = [[m.start_line for m in c.result().messages] + [c.result().stderr[-300:]]
            for c in done if not c.cancelled() and c.exception() is None]
    channels = await asyncio.to_thread(sandbox.cli, "core show channels concise")
    try:
        log = "\n".join(sandbox.log_file.read_text(errors="replace").splitlines()[-30:])
    except OSError as exc:
        log = f"(no log: {exc})"
    return (f"round {number}: calls not answered in 30 s; SIPp saw {seen}; stream "
            f"{app.stream.stats if app.stream else None}; channels:\n{channels}\n"
            f"Asterisk log:\n{log}")


async def test_asterisk_killed_under_live_calls_again_and_again(
        own_sandbox: AsteriskSandbox, figures: dict[str, str]) -> None:
    asterisk_sandbox = own_sandbox
    options = own_sandbox.options
    sip_caller = SipCaller("127.0.0.1", options.sip_port)
    answered: list[CallSession] = []
    hangups: dict[str, int] = {}
    app = VoxtraApp(VoxtraSettings(ari_url=f"http://127.0.0.1:{options.ari_port}",
                                   ari_user=options.ari_user,
                                   ari_password=SecretStr(options.ari_password),
                                   app_name=options.app_name, shutdown_grace=2.0))

    @app.route()
    async def hold_the_line(call: CallSession) -> None:
        call.on_hangup(lambda c: hangups.__setitem__(c.id, hangups.get(c.id, 0) + 1))
        await call.answer()
        answered.append(call)
        await call.wait_ended()

    reconnects: list[float] = []
    restarts: list[float] = []
    async with app:
        stream = app.stream
        assert stream is not None
        stream.backoff = Backoff(base=0.1, cap=0.5)
        for number in range(ROUNDS):
            before = len(answered)
            callers = [asyncio.create_task(sip_caller.call(
                CallerScript(f"70{number}{index}", wait_for_bye=30), timeout=30))
                for index in range(CALLS)]
            try:
                async with asyncio.timeout(30):
                    while len(answered) < before + CALLS:
                        await asyncio.sleep(0.05)
            except TimeoutError:
                raise AssertionError(await unanswered(number, callers, own_sandbox, app)) \
                    from None
            state = asterisk_sandbox.current
            assert state is not None
            connects = stream.stats.connects
            killed = number % 2 == 0
            if killed:
                os.kill(state.pid, signal.SIGKILL)
                await asyncio.to_thread(asterisk_sandbox.stop)
            else:
                await asyncio.to_thread(asterisk_sandbox.cli, "core restart now")
            async with asyncio.timeout(10):  # the app notices, as it would in production
                while stream.connected.is_set():
                    await asyncio.sleep(0.02)
            began = time.monotonic()
            if killed:
                await asyncio.to_thread(asterisk_sandbox.start)
            async with asyncio.timeout(20):
                while stream.stats.connects == connects or not stream.connected.is_set():
                    await asyncio.sleep(0.02)
            (reconnects if killed else restarts).append(time.monotonic() - began)
            # ARI is up before SIP listens: the next round's calls wait for a full boot.
            await asyncio.to_thread(asterisk_sandbox.cli, "core waitfullybooted")
            async with asyncio.timeout(10):
                while any(not call.ended for call in answered):
                    await asyncio.sleep(0.05)
            for caller in callers:  # their Asterisk is gone: SIPp would wait for a BYE
                caller.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await caller
        async with asyncio.timeout(5):
            while app.calls:
                await asyncio.sleep(0.05)
        channels = await app.client.channels.list()
        bridges = await app.client.bridges.list()
        leaked_tasks = len(app._calls.background)
    figures["asterisk killed and restarted"] = (
        f"{len(reconnects)} SIGKILLs and {len(restarts)} `core restart now` with {CALLS} calls "
        f"up: reconnected after a kill (new Asterisk started) in "
        f"{min(reconnects):.1f}-{max(reconnects):.1f} s, after a restart in "
        f"{min(restarts):.1f}-{max(restarts):.1f} s; on_hangup ran "
        f"{sorted(set(hangups.values()))} time(s) per call for {len(hangups)} calls; "
        f"{len(channels)} channels, {len(bridges)} bridges, {leaked_tasks} tasks left")
    assert len(answered) == ROUNDS * CALLS
    assert len(hangups) == ROUNDS * CALLS and set(hangups.values()) == {1}
    assert channels == [] and bridges == [] and leaked_tasks == 0
