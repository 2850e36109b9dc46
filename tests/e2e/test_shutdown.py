"""Graceful shutdown of a running app process on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from voxtra.settings import VoxtraSettings
from voxtra.testing.sipp import CallerScript, SipCaller

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
