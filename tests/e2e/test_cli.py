"""The ``voxtra`` command, run as a user runs it (a process of its own, in a project
directory of its own) against the sandbox Asterisk: ``run``, ``call``, ``check``, and
the mistakes a newcomer makes, each answered with one line.

Protocol facts relied on: SIPp streams the caller's WAV as μ-law and captures what
Asterisk sends back; Asterisk's stock ``hello-world`` prompt is about 1.2 s of speech;
ARI answers a wrong password with HTTP 401; ``POST /asterisk/modules/{name}`` unloads
and loads a module; the bundled dialplan hands calls to ``APP-1`` ... ``APP-N`` in turn
when the global ``VOXTRA_WORKERS`` is N; a process that reads ``VOXTRA_WORKERS`` through
``GET /asterisk/variable`` sees the value set last.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import venv
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from voxtra.ari.client import AriClient
from voxtra.sandbox.asterisk import SandboxState
from voxtra.sandbox.audio import tone
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.sandbox.sound import read_wav, write_wav

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
#: The README's first app, as a newcomer copies it.
FIRST_APP = re.search(r"```python\n(.*?)```", README, re.DOTALL).group(1)  # type: ignore[union-attr]


def settings_env(state: SandboxState, **more: str) -> dict[str, str]:
    return dict(os.environ, VOXTRA_ARI_URL=state.ari_url, VOXTRA_ARI_USER=state.ari_user,
                VOXTRA_ARI_PASSWORD=state.ari_password, VOXTRA_APP_NAME=state.app_name,
                **more)


async def voxtra(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60,
                 command: tuple[str, ...] = (sys.executable, "-m", "voxtra")
                 ) -> tuple[int, str]:
    """Run the command to its end: exit code, and its output (stdout and stderr)."""
    process = await asyncio.create_subprocess_exec(
        *command, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


class Served:
    """``voxtra run`` in the background; its log, read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.log = ""

    @classmethod
    async def start(cls, *args: str, env: dict[str, str], cwd: Path,
                    command: tuple[str, ...] = (sys.executable, "-m", "voxtra")) -> Served:
        process = await asyncio.create_subprocess_exec(
            *command, "run", *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        return cls(process)

    async def until(self, pattern: str, count: int = 1, timeout: float = 30) -> None:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while len(re.findall(pattern, self.log)) < count:
                line = await self.process.stdout.readline()
                assert line, f"voxtra run ended:\n{self.log}"
                self.log += line.decode(errors="replace")

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(self.process.communicate(), 30)
        self.log += out.decode(errors="replace")
        assert self.process.returncode is not None
        return self.process.returncode


def audible(path: Path) -> float:
    """Seconds of the WAV louder than a quiet line (20 ms windows above RMS 300)."""
    pcm, rate = read_wav(path)
    samples = pcm.astype(float)
    window = rate // 50
    frames = samples[:len(samples) // window * window].reshape(-1, window)
    return float((np.sqrt((frames ** 2).mean(axis=1)) > 300).sum() * 0.02)


async def test_run_serves_the_readme_app_and_call_reports_what_came_back(
        sandbox_state: SandboxState, tmp_path: Path) -> None:
    """README: "``voxtra run app:app``", then "``voxtra call +15550100 --wav question.wav
    --dtmf 1``": the call is answered, the app hangs up after its prompt, the caller's
    audio is what the command says, and the app's log holds a banner with the route, a
    line as the call starts and one as it ends, each with the call's channel id."""
    (tmp_path / "app.py").write_text(FIRST_APP)
    write_wav(tmp_path / "question.wav", tone(700, 1.0, rate=16000), 16000)
    env = settings_env(sandbox_state)
    status = free_port(socket.SOCK_STREAM)
    served = await Served.start("app:app", "--set", f"status_port={status}", env=env,
                                cwd=tmp_path)
    try:
        await served.until(r"serving on .* routes: did=\+15550100 -> hello")
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{status}/ready") as ready:
            assert await ready.text() == "ready\n"  # --set gave the setting
        code, out = await voxtra(
            "call", "+15550100", "--wav", "question.wav", "--dtmf", "1", "--save", "heard.wav",
            "--host", sandbox_state.sip_host, "--port", str(sandbox_state.sip_port),
            env=env, cwd=tmp_path)
        await served.until(r"ended: completed after")
    finally:
        stopped = await served.stop()
    assert code == 0, out
    assert re.search(r"answered: +yes", out) and re.search(r"final SIP status: +200", out)
    assert re.search(r"hung up by: +the app", out), out
    assert "the caller heard (transcribed with Whisper): 'Hello world" in out, out
    assert "what the caller heard is in heard.wav" in out
    assert 0.8 <= audible(tmp_path / "heard.wav") <= 2.5  # the prompt, and nothing else
    call_id = re.search(r"\[(\S+)\] call \1 from '1000' to '\+15550100': hello", served.log)
    assert call_id, served.log
    assert re.search(rf"\[{re.escape(call_id.group(1))}\] call \S+ ended: completed after "
                     r"[0-9.]+ s, cause 16", served.log), served.log
    assert stopped == 0 and "Traceback" not in served.log + out


async def test_run_with_two_workers_splits_calls_between_two_processes(
        sandbox_state: SandboxState, tmp_path: Path) -> None:
    """``voxtra run --workers 2``: two processes, each its own Stasis application, and
    the calls handed to each in turn; VOXTRA_WORKERS is as before once it stops."""
    (tmp_path / "app.py").write_text(FIRST_APP)
    env = settings_env(sandbox_state)
    client = AriClient(sandbox_state.ari_url, sandbox_state.ari_user,
                       sandbox_state.ari_password)
    try:
        before = await client.asterisk.get_global_variable("VOXTRA_WORKERS")
        served = await Served.start("app.py", "--workers", "2", env=env, cwd=tmp_path)
        try:
            await served.until(r"Stasis application '[^']+' serving", count=2)
            assert await client.asterisk.get_global_variable("VOXTRA_WORKERS") == "2"
            for _ in range(4):
                code, out = await voxtra(
                    "call", "+15550100", "--host", sandbox_state.sip_host, "--port",
                    str(sandbox_state.sip_port), "--save", "heard.wav", env=env, cwd=tmp_path)
                assert code == 0 and re.search(r"hung up by: +the app", out), out
            await served.until(r"ended: completed", count=4)
        finally:
            stopped = await served.stop()
        after = await client.asterisk.get_global_variable("VOXTRA_WORKERS")
    finally:
        await client.close()
    name = sandbox_state.app_name
    handled = re.findall(r"\(Stasis application (\S+)\)", served.log)
    assert sorted(handled) == [f"{name}-1"] * 2 + [f"{name}-2"] * 2, served.log
    assert stopped == 0 and after == before and "Traceback" not in served.log


HOLDING = """
from voxtra import CallSession, VoxtraApp

app = VoxtraApp()

@app.route()
async def version(call: CallSession) -> None:
    await call.answer()
    await call.wait_ended()  # version 1 holds the call
"""


async def test_reload_hands_a_call_over_to_the_new_code(
        sandbox_state: SandboxState, sip_caller: SipCaller, tmp_path: Path) -> None:
    """``voxtra run --reload``: a call up while app.py changes goes on in the new
    process, whose handler (the new code) ends it; the caller sees one call, answered
    once, hung up by the app."""
    (tmp_path / "app.py").write_text(HOLDING)
    served = await Served.start("app:app", "--reload", env=settings_env(sandbox_state),
                                cwd=tmp_path)
    try:
        await served.until("serving on")
        calling = asyncio.create_task(sip_caller.call(CallerScript("500", wait_for_bye=30)))
        await served.until(r"call \S+ from '1000' to '500': version")
        (tmp_path / "app.py").write_text(HOLDING.replace(
            "await call.wait_ended()  # version 1 holds the call",
            "await call.play_file('sound:beep')\n    await call.hangup()  # version 2"))
        await served.until("adopting call")
        result = await asyncio.wait_for(calling, 30)
        await served.until(r"ended: completed")
    finally:
        stopped = await served.stop()
    assert result.succeeded and result.answered and result.hung_up_by_remote, result.stderr
    assert "app.py changed: handing the calls over" in served.log
    assert len(re.findall(r"serving on", served.log)) == 2
    assert stopped == 0 and "Traceback" not in served.log, served.log


async def test_each_newcomer_mistake_is_one_line_naming_its_fix(
        sandbox_state: SandboxState, tmp_path: Path) -> None:
    """The mistakes of a first hour, each one line (never a traceback), each naming the
    fix: no password, a YAML file with an unclosed quote, credentials in the URL, an
    app that runs itself on import, a module that is not there, an ARI nobody listens
    on, a number no route of the demo's app takes."""
    (tmp_path / "app.py").write_text(FIRST_APP)
    (tmp_path / "runs_itself.py").write_text("from app import app\napp.run()\n")
    (tmp_path / "voxtra.yaml").write_text('app_name: "voxtra\nari_user: me\n')
    env = settings_env(sandbox_state)
    closed = f"http://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    cases = [
        ({"VOXTRA_ARI_PASSWORD": ""}, ["run", "app:app"], 2, "VOXTRA_ARI_PASSWORD"),
        ({"VOXTRA_CONFIG": "voxtra.yaml"}, ["run", "app:app"], 2,
         "quoted scalar that begins at line 1"),
        ({"VOXTRA_ARI_URL": "http://me:secret@127.0.0.1:8088"}, ["check"], 2,
         "give them as VOXTRA_ARI_USER and VOXTRA_ARI_PASSWORD"),
        ({}, ["run", "runs_itself:app"], 1, 'if __name__ == "__main__":'),
        ({}, ["run", "nowhere:app"], 1, "cannot import 'nowhere'"),
        ({}, ["call"], 2, "Missing argument 'NUMBER'. (see voxtra call --help)"),
        ({}, ["run", "app:app", "--set", "status_port"], 2, "is not NAME=VALUE"),
        ({}, ["demo", "app.py", "--number", "100", "--name", f"pytest-{os.getpid()}"], 1,
         "did=+15550100 -> hello"),
    ]
    for extra, args, expected, fix in cases:
        variables = {**env, **extra}
        if extra.get("VOXTRA_ARI_PASSWORD") == "":
            del variables["VOXTRA_ARI_PASSWORD"]
        code, out = await voxtra(*args, env=variables, cwd=tmp_path)
        lines = out.strip().splitlines()
        assert code == expected and len(lines) == 1 and fix in lines[0], (args, extra, out)
        assert "secret" not in out
    # ARI not there: the app waits for it, saying where it looked and what to check.
    served = await Served.start("app:app", env={**env, "VOXTRA_ARI_URL": closed},
                                cwd=tmp_path)
    try:
        await served.until("waiting for Asterisk")
    finally:
        await served.stop()
    line = next(x for x in served.log.splitlines() if "waiting for Asterisk" in x)
    assert closed in line and "VOXTRA_ARI_URL" in line and "ssl:default" not in line, line


async def test_check_names_each_problem_with_its_fix(plain_asterisk: SandboxState,
                                                     tmp_path: Path) -> None:
    """``voxtra check`` on a stock Asterisk: all well, a tone through ExternalMedia and
    back included; then media advertised where Asterisk's RTP cannot arrive, a wrong
    password, a closed port, a module the verbs need unloaded, a recordings directory
    the app may not write, each a line that says what to do, and exit code 1."""
    env = settings_env(plain_asterisk)
    code, out = await voxtra("check", env=env, cwd=tmp_path)
    assert code == 0 and "ari: OK" in out and "recordings: OK" in out, out
    assert re.search(r"media: OK: a tone went through Asterisk and back over ExternalMedia "
                     r"\(ulaw, 127.0.0.1\) in \d+ ms", out), out
    # Asterisk told to send its RTP where none of it can arrive (TEST-NET-1, RFC 5737).
    code, out = await voxtra("check", env={**env, "VOXTRA_MEDIA_ADVERTISE": "192.0.2.10"},
                             cwd=tmp_path)
    assert code == 1 and re.search(r"media: FAILED: no RTP from Asterisk \(\S+\) reached "
                                   r"192.0.2.10:\d+: set media_advertise", out), out
    code, out = await voxtra("check", env={**env, "VOXTRA_ARI_PASSWORD": "not-the-one"},
                             cwd=tmp_path)
    assert code == 1 and re.search(r"ari: FAILED: .*HTTP 401.*check the ARI user and "
                                   r"password", out), out
    closed = f"http://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    code, out = await voxtra("check", env={**env, "VOXTRA_ARI_URL": closed}, cwd=tmp_path)
    assert code == 1 and f"ari: FAILED: cannot reach ARI at {closed}" in out, out
    taken = tmp_path / "taken"  # a file where the directory's parent should be (root
    taken.write_text("")        # may write anywhere, so a file is what stops it here)
    code, out = await voxtra("check", env={**env, "VOXTRA_RECORDINGS_DIR": str(taken / "calls")},
                             cwd=tmp_path)
    assert code == 1 and re.search(rf"recordings: FAILED: {taken} is not a directory the "
                                   r"app may write to: .*VOXTRA_RECORDINGS_DIR", out), out
    client = AriClient(plain_asterisk.ari_url, plain_asterisk.ari_user,
                       plain_asterisk.ari_password)
    try:
        await client.asterisk.unload_module("app_queue.so")
        try:
            code, out = await voxtra("check", env=env, cwd=tmp_path)
        finally:
            await client.asterisk.load_module("app_queue.so")
    finally:
        await client.close()
    assert "asterisk: WARNING: module app_queue is not loaded: needed for " \
           "transfer_to_queue" in out, out


async def test_init_makes_a_project_that_passes_its_own_tests(tmp_path: Path) -> None:
    """``voxtra init shop``, then ``pytest`` inside it, as its author would: the tests
    call the app through the plugin's own Asterisk and pass, with no warning."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXTRA_")}
    code, out = await voxtra("init", "shop", env=env, cwd=tmp_path)
    assert code == 0 and "made shop/" in out, out
    shop = tmp_path / "shop"
    assert (shop / "asterisk-conf" / "ari.conf").is_file()
    code, out = await voxtra("init", "shop", env=env, cwd=tmp_path)
    assert code == 1 and "exists already" in out
    code, out = await voxtra("-q", "-p", "no:cacheprovider", env=env, cwd=shop, timeout=300,
                             command=(sys.executable, "-m", "pytest"))
    assert code == 0 and "2 passed" in out, out
    assert "warning" not in out.lower(), out


@pytest.mark.slow
async def test_a_newcomer_installs_from_the_readme_and_calls_the_first_app(
        sandbox_state: SandboxState, tmp_path: Path) -> None:
    """In a fresh virtual environment outside the checkout, the README's install line
    (from a checkout), the README's first app, ``voxtra run`` and ``voxtra call``: the
    prompt is heard and nothing prints a traceback. Without the offline extra the
    command says how to have the audio transcribed."""
    install = re.search(r"^pip install (\S+) +# from a checkout$", README, re.MULTILINE)
    assert install and install.group(1) == "/path/to/voxtra-checkout", "README changed"
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    pip = await asyncio.to_thread(
        subprocess.run, [str(fresh / "bin" / "pip"), "install", "-q", str(REPO)],
        capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-2000:]
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(FIRST_APP)
    command = (str(fresh / "bin" / "voxtra"),)
    env = settings_env(sandbox_state)
    env.pop("PYTHONPATH", None)
    served = await Served.start("app:app", env=env, cwd=project, command=command)
    try:
        await served.until(r"routes: did=\+15550100 -> hello", timeout=60)
        code, out = await voxtra(
            "call", "+15550100", "--host", sandbox_state.sip_host, "--port",
            str(sandbox_state.sip_port), "--save", "heard.wav", env=env, cwd=project,
            command=command)
        await served.until("ended: completed")
    finally:
        stopped = await served.stop()
    assert code == 0 and re.search(r"hung up by: +the app", out), out
    assert "install voxtra-asterisk[offline] to have it transcribed" in out, out
    assert 0.8 <= audible(project / "heard.wav") <= 2.5
    assert stopped == 0 and "Traceback" not in served.log + out, served.log + out
