"""The ``voxtra`` command: sandbox Asterisk control and the end-to-end demo."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import runpy
import shlex
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from voxtra import runner
from voxtra.ari.errors import AriError
from voxtra.asterisk.conf import AsteriskConf, AsteriskConfError, render
from voxtra.sandbox.asterisk import (
    AsteriskSandbox,
    SandboxOptions,
    SandboxState,
    stored_password,
)
from voxtra.sandbox.errors import SandboxError, SippError

if TYPE_CHECKING:
    from voxtra.app import VoxtraApp
    from voxtra.sandbox.sipp import SipCaller


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voxtra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="a local Asterisk 22 without Docker")
    sandbox.add_argument("action", choices=["up", "down", "status", "env"])
    _sandbox_options(sandbox)

    demo = commands.add_parser(
        "demo", help="start the sandbox, call an app with SIPp, report what the caller saw")
    demo.add_argument("app", nargs="?", default="examples/hello.py",
                      help="Python file defining `app` (default: examples/hello.py)")
    demo.add_argument("--number", default="100", help="the number SIPp dials")
    demo.add_argument("--agent", action="store_true",
                      help="speak a question to the offline voice agent "
                      "(examples/voice_agent.py) and print what the caller heard back")
    _sandbox_options(demo)

    models = commands.add_parser(
        "models", help="model files the offline voice stack runs but Voxtra does not ship "
        "(the official Silero VAD, Smart Turn): list where each is, or fetch the missing")
    models.add_argument("action", choices=["list", "fetch"])

    commands.add_parser(
        "check", help="check the settings: ARI reachable, each voice provider configured "
        "and its credentials accepted (settings from VOXTRA_*, .env, VOXTRA_CONFIG)")

    conf = commands.add_parser(
        "render-conf", help="render asterisk-conf/ into a directory (password from "
        "VOXTRA_ARI_PASSWORD)")
    conf.add_argument("out", type=Path)
    for field in fields(AsteriskConf):
        flag = "--" + field.name.replace("_", "-")
        if field.name == "ari_password":
            continue
        if isinstance(field.default, bool):
            conf.add_argument(flag, dest=field.name, action="store_true",
                              help=CONF_HELP.get(field.name))
        else:
            conf.add_argument(flag, dest=field.name, type=type(field.default),
                              default=field.default, help=CONF_HELP.get(field.name))

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "render-conf":
            return _render_conf(args)
        if args.command == "models":
            return _models(args.action)
        if args.command == "check":
            return runner.run(_check())
        options = SandboxOptions(name=args.name, ari_port=args.ari_port,
                                 sip_port=args.sip_port,
                                 ari_password=stored_password(args.name))
        if args.command == "sandbox":
            return _sandbox(args.action, AsteriskSandbox(options))
        app_file = Path(args.app)
        if args.agent and args.app == demo.get_default("app"):
            app_file = Path("examples/voice_agent.py")
        return runner.run(_demo(app_file, args.number, AsteriskSandbox(options), args.agent))
    except (SandboxError, SippError, AriError, AsteriskConfError) as exc:
        print(f"voxtra: {exc}", file=sys.stderr)
        return 1


async def _check() -> int:
    """Print one line per thing checked; exit 1 if any failed."""
    from pydantic import ValidationError

    from voxtra.app import VoxtraApp
    from voxtra.asterisk.capabilities import missing_requirements
    from voxtra.errors import VoxtraError
    from voxtra.voice.fallback import FallbackLLM, FallbackSTT, FallbackTTS

    try:
        app = VoxtraApp()
    except (ValidationError, VoxtraError, ValueError) as exc:
        print(f"settings: FAILED: {exc}")
        return 1
    failures = 0
    try:
        info = await app.client.asterisk.info()
        version = info.system.version if info.system else "?"
        print(f"ari: OK: {app.settings.ari_url} (Asterisk {version})")
        for requirement in await missing_requirements(app.client):
            level = "FAILED" if requirement.core else "WARNING"
            print(f"asterisk: {level}: module {requirement.module} is not loaded: "
                  f"needed for {requirement.needed_for}")
            failures += requirement.core
    except AriError as exc:
        print(f"ari: FAILED: {exc}")
        failures += 1
    finally:
        await app.client.close()
    providers = app.voice.providers
    for stage, provider in (("stt", providers.stt), ("llm", providers.llm),
                            ("tts", providers.tts), ("vad", providers.vad),
                            ("realtime", providers.realtime),
                            ("end_of_turn", providers.end_of_turn)):
        if provider is None:
            print(f"{stage}: not configured")
            continue
        members = provider.providers if isinstance(
            provider, FallbackSTT | FallbackLLM | FallbackTTS) else [provider]
        for member in members:
            name = type(getattr(member, "batch", member)).__name__
            try:
                await asyncio.to_thread(member.load)
                check = getattr(member, "check", None)
                if check is not None:
                    await check()
                    print(f"{stage}: OK: {name}: credentials accepted")
                else:
                    print(f"{stage}: OK: {name}: loaded")
            except VoxtraError as exc:
                print(f"{stage}: FAILED: {name}: {exc}")
                failures += 1
    return 1 if failures else 0


#: Help of the render-conf flags that need more than their name.
CONF_HELP = {
    "open_binds": "allow ARI or SIP on every address, plain-HTTP ARI beyond loopback, "
                  "or SIP peers from a network wider than /16 (only behind a firewall or VPN)",
    "sip_tls_cert": "PEM certificate of the SIP TLS transport (as Asterisk sees the path); "
                    "with --sip-tls-key it turns SIP over TLS on",
    "sip_tls_key": "PEM private key of --sip-tls-cert",
    "sip_tls_ca": "PEM CAs that vouch for the TLS peers Asterisk calls",
    "sip_tls_bind": "address of the SIP TLS transport (default: --sip-bind)",
    "sip_tls_peer": "address or network of a peer that calls over TLS with SDES-SRTP "
                    "(endpoint tls-peer)",
    "ari_tls_cert": "PEM certificate for ARI over HTTPS/WSS; with --ari-tls-key it turns "
                    "HTTPS on",
    "ari_tls_key": "PEM private key of --ari-tls-cert",
    "ari_tls_bind": "address of ARI's HTTPS listener (default: --ari-bind); plain HTTP "
                    "stays on --ari-bind",
}


def _models(action: str) -> int:
    from voxtra.voice import model_files
    from voxtra.voice.errors import ProviderError

    try:
        where = model_files.fetch() if action == "fetch" else {
            name: model_files.find(name) for name in model_files.MODELS}
    except ProviderError as exc:
        print(f"voxtra models: {exc}", file=sys.stderr)
        return 1
    for name, path in where.items():
        print(f"{name}: {path or f'missing (run `{model_files.FETCH_COMMAND}`)'}")
    return 0 if all(where.values()) else 1


def _render_conf(args: argparse.Namespace) -> int:
    password = os.environ.get("VOXTRA_ARI_PASSWORD", "")
    values = {f.name: getattr(args, f.name) for f in fields(AsteriskConf)
              if f.name != "ari_password"}
    conf = AsteriskConf(ari_password=password, **values)
    written = render(conf, args.out)
    print(f"rendered {len(written)} files into {args.out}; ari.conf holds the ARI password "
          "and is readable by its owner only: give it to the user Asterisk runs as "
          f"(chown asterisk: {args.out}/ari.conf)")
    tls = conf.values()
    if conf.ari_tls:
        print(f"ARI over HTTPS/WSS on {tls['ARI_TLS_ADDRESS']} (plain HTTP stays on "
              f"{conf.ari_bind}:{conf.ari_port})")
    if conf.sip_tls:
        print(f"SIP over TLS on {tls['SIP_TLS_ADDRESS']}; endpoints built on "
              "voxtra-endpoint-tls use SDES-SRTP")
    if conf.sip_tls or conf.ari_tls:
        print("the private keys must be readable by the user Asterisk runs as, and by "
              "nobody else (chmod 600)")
    if not ipaddress.ip_address(conf.ari_bind).is_loopback:
        print(f"WARNING: ARI over plain HTTP on {conf.ari_bind}:{conf.ari_port} (allowed "
              "by --open-binds): the ARI password and call control cross the network in "
              "cleartext; serve other hosts over TLS (--ari-tls-cert, --ari-tls-key)",
              file=sys.stderr)
    return 0


def _sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="default", help="instance name (default: default)")
    parser.add_argument("--ari-port", type=int, default=SandboxOptions.ari_port)
    parser.add_argument("--sip-port", type=int, default=SandboxOptions.sip_port)


def _sandbox(action: str, sandbox: AsteriskSandbox) -> int:
    if action == "up":
        started = sandbox.start()
        print(f"Asterisk is up (pid {started.pid}): ARI {started.ari_url}, SIP "
              f"udp:{started.sip_host}:{started.sip_port}, app {started.app_name!r}")
        print(f"Credentials: `voxtra sandbox env{_name_flag(sandbox)}` prints them as "
              "VOXTRA_* variables.")
        return 0
    if action == "down":
        print("stopped" if sandbox.stop() else "not running")
        return 0
    state = sandbox.state()
    if state is None:
        print("not running", file=sys.stderr)
        return 3
    if action == "status":
        ready = "answering" if sandbox.ari_ready(state) else "NOT answering"
        print(f"running (pid {state.pid}); ARI {state.ari_url} {ready}; "
              f"SIP udp:{state.sip_host}:{state.sip_port}; log {sandbox.log_file}")
        return 0
    for key, value in _env(state).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _name_flag(sandbox: AsteriskSandbox) -> str:
    name = sandbox.options.name
    return "" if name == "default" else f" --name {name}"


def _env(state: SandboxState) -> dict[str, str]:
    return {
        "VOXTRA_ARI_URL": state.ari_url,
        "VOXTRA_ARI_USER": state.ari_user,
        "VOXTRA_ARI_PASSWORD": state.ari_password,
        "VOXTRA_APP_NAME": state.app_name,
    }


async def _demo(app_file: Path, number: str, sandbox: AsteriskSandbox, agent: bool) -> int:
    from voxtra.app import VoxtraApp
    from voxtra.sandbox.scenarios import CallerScript
    from voxtra.sandbox.sipp import SipCaller

    if not app_file.is_file():  # noqa: ASYNC240 - before anything runs
        print(f"voxtra: {app_file} not found (run from the Voxtra checkout, or name an app "
              "file)", file=sys.stderr)
        return 2
    state = sandbox.state()
    started_here = state is None
    if state is None:
        print("Starting the sandbox Asterisk (the first run builds it: about a minute)...")
        state = sandbox.start()
    try:
        os.environ.update(_env(state))
        app = runpy.run_path(str(app_file)).get("app")
        if not isinstance(app, VoxtraApp):
            print(f"voxtra: {app_file} defines no VoxtraApp named `app`", file=sys.stderr)
            return 2
        caller = SipCaller(state.sip_host, state.sip_port)
        if agent:
            return await _agent_demo(app, caller, number)
        async with app:
            print(f"Calling {number} with SIPp through Asterisk {state.ari_url} ...")
            began = time.monotonic()
            result = await caller.call(CallerScript(number, wait_for_bye=30))
            took = time.monotonic() - began
        print(f"  answered:          {'yes' if result.answered else 'NO'}")
        print(f"  final SIP status:  {result.final_status}")
        print(f"  hung up by:        {'the app' if result.hung_up_by_remote else 'the caller'}")
        print(f"  call lasted:       {took:.2f} s")
        ok = result.succeeded and result.answered and result.hung_up_by_remote
        print("Demo call OK." if ok else f"Demo call FAILED:\n{result.stderr[-1000:]}")
        return 0 if ok else 1
    finally:
        if started_here:
            sandbox.stop()


DEMO_QUESTION = "What time do you open on Saturday?"


async def _agent_demo(app: VoxtraApp, caller: SipCaller, number: str) -> int:
    """Speak a question (made with Piper) into the call; transcribe what came back."""
    import tempfile
    import wave

    from voxtra.media.resample import resample
    from voxtra.sandbox.audio import audible_spans, speech_wav
    from voxtra.sandbox.scenarios import CallerScript
    from voxtra.voice.providers.piper import PiperTTS
    from voxtra.voice.providers.whisper import WhisperSTT

    with tempfile.TemporaryDirectory() as tmp:
        question = await speech_wav(Path(tmp) / "question.wav", PiperTTS(), 4.5,
                                    DEMO_QUESTION, 7.0)
        async with app:
            print(f"Calling {number}; after the greeting the caller asks: {DEMO_QUESTION!r}")
            result = await caller.call(CallerScript(number, audio=question, hangup_after=14,
                                                    capture_audio=True))
    heard = result.heard()
    if not result.succeeded or not len(heard):
        print(f"Demo call FAILED:\n{result.stderr[-1000:]}")
        return 1
    saved = Path("voxtra-demo-heard.wav")
    with wave.open(str(saved), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(heard.tobytes())
    text = (await WhisperSTT().transcribe(resample(heard, 8000, 16000))).text
    print(f"  the caller heard (transcribed with Whisper): {text!r}")
    said = audible_spans(result.captured, received=False)
    replies = audible_spans(result.captured, received=True)
    if said:
        end_of_question = said[-1][1]
        answer = next((start for start, _ in replies if start > end_of_question), None)
        if answer is not None:
            print(f"  end of the question -> first audio of the answer at the caller: "
                  f"{(answer - end_of_question) * 1000:.0f} ms")
    print(f"  what the caller heard is in {saved} (8 kHz WAV)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
