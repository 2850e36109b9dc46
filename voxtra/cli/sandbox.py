"""``voxtra sandbox`` and ``voxtra demo``: a local Asterisk 22, and a first real call."""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from voxtra import runner
from voxtra.cli.options import save_heard
from voxtra.sandbox.asterisk import (
    AsteriskSandbox,
    SandboxOptions,
    SandboxState,
    stored_password,
)

if TYPE_CHECKING:
    from voxtra.app import VoxtraApp
    from voxtra.sandbox.sipp import SipCaller

#: Exit code of a sandbox command that needs it running when it is not.
NOT_RUNNING = 3


def sandbox_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The flags that name a sandbox instance."""
    command = click.option("--sip-port", type=int, default=SandboxOptions.sip_port,
                           show_default=True)(command)
    command = click.option("--ari-port", type=int, default=SandboxOptions.ari_port,
                           show_default=True)(command)
    return click.option("--name", default="default", show_default=True,
                        help="instance name")(command)


def the_sandbox(name: str, ari_port: int, sip_port: int) -> AsteriskSandbox:
    return AsteriskSandbox(SandboxOptions(name=name, ari_port=ari_port, sip_port=sip_port,
                                          ari_password=stored_password(name)))


def env(state: SandboxState) -> dict[str, str]:
    """The settings that point an app at the sandbox."""
    return {
        "VOXTRA_ARI_URL": state.ari_url,
        "VOXTRA_ARI_USER": state.ari_user,
        "VOXTRA_ARI_PASSWORD": state.ari_password,
        "VOXTRA_APP_NAME": state.app_name,
    }


@click.command()
@click.argument("action", type=click.Choice(["up", "down", "status", "env"]))
@sandbox_options
def sandbox(action: str, name: str, ari_port: int, sip_port: int) -> int:
    """A local Asterisk 22 without Docker: start it (up), stop it (down), say whether it
    runs (status), or print its settings as VOXTRA_* variables (env:
    eval "$(voxtra sandbox env)"). Exit 3 when it is not running."""
    box = the_sandbox(name, ari_port, sip_port)
    if action == "up":
        if box.state() is None:
            click.echo("Starting the sandbox Asterisk (the first run builds it into "
                       "~/.cache/voxtra: about a minute)...", err=True)
        started = box.start()
        click.echo(f"Asterisk is up (pid {started.pid}): ARI {started.ari_url}, SIP "
                   f"udp:{started.sip_host}:{started.sip_port}, app {started.app_name!r}")
        flag = "" if name == "default" else f" --name {name}"
        click.echo(f"Credentials: `voxtra sandbox env{flag}` prints them as VOXTRA_* "
                   "variables.")
        return 0
    if action == "down":
        click.echo("stopped" if box.stop() else "not running")
        return 0
    state = box.state()
    if state is None:
        click.echo("not running", err=True)
        return NOT_RUNNING
    if action == "status":
        ready = "answering" if box.ari_ready(state) else "NOT answering"
        click.echo(f"running (pid {state.pid}); ARI {state.ari_url} {ready}; "
                   f"SIP udp:{state.sip_host}:{state.sip_port}; log {box.log_file}")
        return 0
    for key, value in env(state).items():
        click.echo(f"export {key}={shlex.quote(value)}")
    return 0


@click.command()
@click.argument("target", default="examples/hello.py")
@click.option("--number", default="100", show_default=True, help="the number SIPp dials")
@click.option("--agent", is_flag=True,
              help="speak a question to the offline voice agent (examples/voice_agent.py) "
                   "and print what the caller heard back")
@save_heard
@sandbox_options
def demo(target: str, number: str, agent: bool, save: Path | None, name: str,
         ari_port: int, sip_port: int) -> int:
    """Start the sandbox Asterisk, serve TARGET (an app file or module:app; by default
    examples/hello.py) and call it with SIPp: report what the caller saw."""
    if agent and target == "examples/hello.py":
        target = "examples/voice_agent.py"
    if target.endswith(".py") and not Path(target).is_file():
        raise click.ClickException(f"{target} not found (run from the Voxtra checkout, "
                                   "or name an app file)")
    box = the_sandbox(name, ari_port, sip_port)
    state = box.state()
    started_here = state is None
    if state is None:
        click.echo("Starting the sandbox Asterisk (the first run builds it: about a "
                   "minute)...")
        state = box.start()
    try:
        os.environ.update(env(state))
        from voxtra.cli.target import load_app
        from voxtra.sandbox.sipp import SipCaller

        app = load_app(target)
        _say_if_unrouted(app, number)
        caller = SipCaller(state.sip_host, state.sip_port)
        if agent:
            heard = save or Path(tempfile.gettempdir()) / "voxtra-demo-heard.wav"
            return runner.run(_agent_demo(app, caller, number, heard))
        return runner.run(_demo(app, caller, number, state.ari_url))
    finally:
        if started_here:
            box.stop()


def _say_if_unrouted(app: VoxtraApp, number: str) -> None:
    """Refuse a number that no route of ``app`` takes, naming the routes."""
    from voxtra.app.routing import CallInfo

    routes = app.routes
    if routes and not any(r.matches(CallInfo(number, "1000")) for r in routes):
        raise click.ClickException(f"no route of the app takes {number!r}: its routes are "
                                   f"{'; '.join(map(str, routes))}; call one of them with "
                                   "--number")


async def _demo(app: VoxtraApp, caller: SipCaller, number: str, ari_url: str) -> int:
    from voxtra.cli.call import report_call
    from voxtra.sandbox.scenarios import CallerScript

    async with app:
        click.echo(f"Calling {number} with SIPp through Asterisk {ari_url} ...")
        began = time.monotonic()
        result = await caller.call(CallerScript(number, wait_for_bye=30))
        took = time.monotonic() - began
    report_call(result, took)
    ok = result.succeeded and result.answered and result.hung_up_by_remote
    click.echo("Demo call OK." if ok else f"Demo call FAILED:\n{result.stderr[-1000:]}")
    return 0 if ok else 1


DEMO_QUESTION = "What time do you open on Saturday?"


async def _agent_demo(app: VoxtraApp, caller: SipCaller, number: str, saved: Path) -> int:
    """Speak a question (made with Piper) into the call; transcribe what came back."""
    from voxtra.cli.call import report_heard
    from voxtra.sandbox.audio import speech_wav
    from voxtra.sandbox.scenarios import CallerScript
    from voxtra.voice.providers.piper import PiperTTS

    with tempfile.TemporaryDirectory() as tmp:
        question = await speech_wav(Path(tmp) / "question.wav", PiperTTS(), 4.5,
                                    DEMO_QUESTION, 7.0)
        async with app:
            click.echo(f"Calling {number}; after the greeting the caller asks: "
                       f"{DEMO_QUESTION!r}")
            result = await caller.call(CallerScript(number, audio=question, hangup_after=14,
                                                    capture_audio=True))
    if not result.succeeded or not len(result.heard()):
        click.echo(f"Demo call FAILED:\n{result.stderr[-1000:]}")
        return 1
    await report_heard(result, saved)
    return 0
