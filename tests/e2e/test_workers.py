"""Several Voxtra processes on one Asterisk (one per core): each serves its own Stasis
application name (Asterisk allows one event websocket per name), and the bundled
dialplan hands calls to them in turn."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from voxtra.app import VoxtraApp
from voxtra.ari.client import AriClient
from voxtra.call.session import CallSession
from voxtra.load import LoopLoad
from voxtra.sandbox.load import busy_loop
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller, SippResult
from voxtra.settings import VoxtraSettings

WORKER = textwrap.dedent("""
    import logging
    import os
    from voxtra import CallSession, VoxtraApp

    logging.basicConfig(level=logging.INFO)
    app = VoxtraApp()

    @app.route()
    async def serve(call: CallSession) -> None:
        print(os.environ["VOXTRA_APP_NAME"], call.id, flush=True)
        await call.answer()
        await call.play_file("sound:beep")
        await call.hangup()

    app.run()
""")


async def start_worker(script: Path, settings: VoxtraSettings,
                       name: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, VOXTRA_ARI_URL=settings.ari_url, VOXTRA_ARI_USER=settings.ari_user,
               VOXTRA_ARI_PASSWORD=settings.ari_password.get_secret_value(),
               VOXTRA_APP_NAME=name)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    async with asyncio.timeout(15):  # until its event stream is connected
        while b"connected" not in await process.stderr.readline():
            pass
    return process


async def served_by(process: asyncio.subprocess.Process) -> list[str]:
    process.terminate()
    out, _ = await asyncio.wait_for(process.communicate(), 15)
    return [line.split()[0] for line in out.decode().splitlines() if line.strip()]


def assert_refused_with_503(result: SippResult) -> None:
    """The caller was never answered: Asterisk refused the call with SIP 503."""
    assert result.succeeded and not result.answered and result.final_status == 503, \
        result.stderr


SCHEDSTAT = Path("/proc/thread-self/schedstat")


def runnable_time() -> float:
    """Wall-clock seconds less those the calling thread spent waiting for a CPU (its
    run delay in ``/proc/thread-self/schedstat``). A loop's CPU time over this clock is
    its share of the time it could run: what its own work costs, which a CPU hog
    elsewhere on the machine does not shrink, as it shrinks a share of wall time."""
    if not SCHEDSTAT.exists():
        return time.monotonic()
    return time.monotonic() - int(SCHEDSTAT.read_text().split()[1]) / 1e9


async def until(condition: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


@pytest.fixture
async def two_workers(ari: AriClient) -> AsyncIterator[None]:
    await ari.asterisk.set_global_variable("VOXTRA_WORKERS", "2")
    yield
    await ari.asterisk.set_global_variable("VOXTRA_WORKERS", "1")


@pytest.mark.usefixtures("two_workers")
async def test_calls_are_spread_over_two_processes(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    names = [f"{voxtra_settings.app_name}-1", f"{voxtra_settings.app_name}-2"]
    workers = [await start_worker(script, voxtra_settings, n) for n in names]
    try:  # one after the other: the dialplan's turn counter is not atomic
        results = [await sip_caller.call(CallerScript("960", wait_for_bye=10))
                   for _ in range(6)]
    finally:
        served = [await served_by(worker) for worker in workers]
    assert all(r.succeeded and r.hung_up_by_remote for r in results)
    assert sorted(served) == [[names[0]] * 3, [names[1]] * 3]


async def test_a_call_beyond_max_calls_is_refused_with_503(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller) -> None:
    """``max_calls``: a process at its limit refuses a new call with congestion, which
    reaches the caller as SIP 503 (Asterisk maps Q.850 cause 34 to 503: a load balancer
    retries another server); once a call ends, the next one is taken again."""
    app = VoxtraApp(voxtra_settings.model_copy(update={"max_calls": 1}))
    up = asyncio.Event()
    served: list[str] = []

    @app.route()
    async def hold(call: CallSession) -> None:
        served.append(call.called_number)
        await call.answer()
        up.set()
        await call.wait_ended()

    async with app:
        first = asyncio.create_task(sip_caller.call(CallerScript("970", hangup_after=3.0)))
        await asyncio.wait_for(up.wait(), 10)
        refused = await sip_caller.call(CallerScript("971", expect_status=503))
        await first
        later = await sip_caller.call(CallerScript("972", hangup_after=1.0))
    assert_refused_with_503(refused)
    assert first.result().succeeded and later.succeeded and later.answered
    assert served == ["970", "972"] and app.refused_calls == 1


async def test_a_busy_process_warns_refuses_new_calls_and_recovers(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
        caplog: pytest.LogCaptureFixture) -> None:
    """The app's load (its loop's and the media thread's CPU share) raises the overload
    warning while a call is up and the loop stays busy; meanwhile ``max_load`` refuses
    a new call with 503; once the loop is idle the warning clears and calls are taken."""
    app = VoxtraApp(voxtra_settings.model_copy(update={"max_load": 0.35}))
    app.overload.overloaded, app.overload.recovered, app.overload.sustain = 0.35, 0.2, 1.0
    # The loop's load as the CPU time it used over the time it could run: what the busy
    # handler makes it, whatever other processes take of the machine meanwhile.
    app.loop_load = LoopLoad(clock=runnable_time)
    caplog.set_level(logging.WARNING, "voxtra")
    loads: list[float] = []
    served: list[str] = []

    @app.route()
    async def work(call: CallSession) -> None:
        served.append(call.called_number)
        await call.answer()
        if call.called_number != "973":
            return await call.hangup()
        await asyncio.sleep(1.5)
        loads.append(app.load)
        await busy_loop(4.0, 0.9)
        loads.append(app.load)
        await until(lambda: app.load < 0.2, 15)
        loads.append(app.load)
        await asyncio.sleep(1.5)  # the alarm looks once a second
        await call.hangup()

    async with app:
        first = asyncio.create_task(sip_caller.call(CallerScript("973", wait_for_bye=25)))
        await until(lambda: app.load > 0.35, 10)
        refused = await sip_caller.call(CallerScript("974", expect_status=503))
        await until(lambda: len(loads) == 3, 20)
        later = await sip_caller.call(CallerScript("975", wait_for_bye=5))
        await first
    result = first.result()
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert_refused_with_503(refused)
    assert later.succeeded and later.answered and served == ["973", "975"]
    assert app.refused_calls == 1
    before, working, after = loads
    assert before < 0.2 and working > 0.35 and after < 0.2, loads
    messages = [r.getMessage() for r in caplog.records if r.name == "voxtra.load"]
    assert app.overload.episodes == 1 and not app.overload.active, messages
    assert "(calls up: 1)" in messages[0] and messages[1].startswith("no longer overloaded")
    assert any("max_load is 0.35" in r.getMessage() for r in caplog.records)
