"""Graceful shutdown of a running app process on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from voxtra.ari.client import AriClient
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.apps import AppProcess

APP = textwrap.dedent("""
    import asyncio
    import logging
    from voxtra import CallSession, VoxtraApp

    logging.basicConfig(level=logging.INFO)

    app = VoxtraApp(shutdown_grace=1.0)

    @app.route()
    async def forever(call: CallSession) -> None:
        call.on_hangup(lambda c: print("on_hangup", c.id, flush=True))
        await call.answer()
        print("answered", flush=True)
        await asyncio.sleep(3600)

    app.run()
""")


async def test_sigterm_hangs_up_running_calls_and_exits(voxtra_settings: VoxtraSettings,
                                                        sip_caller: SipCaller,
                                                        tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    env = dict(os.environ, VOXTRA_ARI_URL=voxtra_settings.ari_url,
               VOXTRA_ARI_USER=voxtra_settings.ari_user,
               VOXTRA_ARI_PASSWORD=voxtra_settings.ari_password.get_secret_value(),
               VOXTRA_APP_NAME=voxtra_settings.app_name)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    assert process.stderr is not None
    async with asyncio.timeout(15):  # until the app says its event stream is connected
        while b"connected" not in await process.stderr.readline():
            pass
    caller = asyncio.create_task(sip_caller.call(CallerScript("950", wait_for_bye=20)))
    line = await asyncio.wait_for(process.stdout.readline(), 10)
    assert line.startswith(b"answered")
    process.send_signal(signal.SIGTERM)
    result = await caller
    out, err = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, err.decode()
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert out.decode().count("on_hangup") == 1


SIGINT_APP = textwrap.dedent("""
    import asyncio
    import logging
    from voxtra import CallSession, VoxtraApp

    logging.basicConfig(level=logging.INFO)

    app = VoxtraApp(shutdown_grace=6.0)
    parked: list[CallSession] = []

    @app.route(did="961")
    async def park(call: CallSession) -> None:
        await call.answer()
        parked.append(call)
        print("parked", flush=True)
        await call.wait_ended()

    @app.route(did="962")
    async def join(call: CallSession) -> None:
        await call.answer()
        print("bridged", await call.bridge_with(parked[0]), flush=True)
        await call.wait_ended()

    @app.route(did="963")
    async def finishing(call: CallSession) -> None:
        await call.answer()
        print("finishing started", flush=True)
        await asyncio.sleep(2.0)
        print("finishing done", flush=True)
        await call.hangup()

    @app.route(did="964")
    async def late(call: CallSession) -> None:
        print("late call handled", flush=True)
        await call.answer()

    app.run()
""")


async def test_sigint_refuses_new_calls_gives_grace_and_destroys_bridges(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, ari: AriClient,
        tmp_path: Path) -> None:
    """README: "On SIGTERM or SIGINT the app stops taking calls, gives running handlers
    ``shutdown_grace`` seconds, then hangs up what is left and destroys its bridges."

    Three calls run when SIGINT arrives: two bridged by the app (their handlers wait for
    the end of the call) and one whose handler needs 2 s more to finish (grace: 6 s). A
    fourth call arrives once that handler is done, inside the grace period. Evidence:
    the bridge the app made is in ARI before the signal; the fourth caller is refused
    (a final SIP status, never a 200, and its handler never runs); the finishing handler
    completes (its last line is printed, its caller gets the app's BYE); the bridged
    callers get a BYE; afterwards ARI lists no bridge and no channel; exit status 0."""
    script = tmp_path / "app.py"
    script.write_text(SIGINT_APP)
    app = await AppProcess.start(script, voxtra_settings)
    try:
        await app.wait_for(b"event stream", timeout=20)
        parked = asyncio.create_task(sip_caller.call(CallerScript("961", wait_for_bye=40)))
        await app.wait_for(b"parked")
        joined = asyncio.create_task(sip_caller.call(CallerScript("962", wait_for_bye=40)))
        bridge = (await app.wait_for(b"bridged")).split()[-1].decode()
        assert bridge in {b.id for b in await ari.bridges.list()}
        finishing = asyncio.create_task(sip_caller.call(CallerScript("963", wait_for_bye=40)))
        await app.wait_for(b"finishing started")
        app.process.send_signal(signal.SIGINT)
        await app.wait_for(b"finishing done")  # 2 s after the signal, within the grace
        late = await sip_caller.call(CallerScript("964", expect_status=503))
        results = await asyncio.gather(parked, joined, finishing)
        status = await app.exited()  # SIGINT alone ends it
    finally:
        if app.process.returncode is None:
            await app.kill()
    output = b"".join(app.lines).decode(errors="replace")
    assert status == 0, output
    assert late.succeeded and not late.answered and late.final_status == 503, late.stderr
    assert "late call handled" not in output
    assert all(r.succeeded and r.hung_up_by_remote for r in results), \
        [r.stderr for r in results]
    assert await ari.bridges.list() == []
    assert await ari.channels.list() == []
