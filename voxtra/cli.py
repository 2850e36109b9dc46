"""The ``voxtra`` command: sandbox Asterisk control and the end-to-end demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import runpy
import shlex
import sys
import time
from dataclasses import fields
from pathlib import Path

from voxtra.ari.errors import AriError
from voxtra.asterisk_conf import AsteriskConf, AsteriskConfError, render
from voxtra.testing.errors import SandboxError, SippError
from voxtra.testing.sandbox import AsteriskSandbox, SandboxOptions, SandboxState


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
    _sandbox_options(demo)

    conf = commands.add_parser(
        "render-conf", help="render asterisk-conf/ into a directory (password from "
        "VOXTRA_ARI_PASSWORD)")
    conf.add_argument("out", type=Path)
    for field in fields(AsteriskConf):
        if field.name != "ari_password":
            conf.add_argument("--" + field.name.replace("_", "-"), dest=field.name,
                              type=type(field.default), default=field.default)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "render-conf":
            return _render_conf(args)
        options = SandboxOptions(name=args.name, ari_port=args.ari_port,
                                 sip_port=args.sip_port)
        if args.command == "sandbox":
            return _sandbox(args.action, AsteriskSandbox(options))
        return asyncio.run(_demo(Path(args.app), args.number, AsteriskSandbox(options)))
    except (SandboxError, SippError, AriError, AsteriskConfError) as exc:
        print(f"voxtra: {exc}", file=sys.stderr)
        return 1


def _render_conf(args: argparse.Namespace) -> int:
    password = os.environ.get("VOXTRA_ARI_PASSWORD", "")
    values = {f.name: getattr(args, f.name) for f in fields(AsteriskConf)
              if f.name != "ari_password"}
    written = render(AsteriskConf(ari_password=password, **values), args.out)
    print(f"rendered {len(written)} files into {args.out}")
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


async def _demo(app_file: Path, number: str, sandbox: AsteriskSandbox) -> int:
    from voxtra.app import VoxtraApp
    from voxtra.testing.sipp import CallerScript, SipCaller

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
        async with app:
            print(f"Calling {number} with SIPp through Asterisk {state.ari_url} ...")
            began = time.monotonic()
            result = await SipCaller(state.sip_host, state.sip_port).call(
                CallerScript(number, wait_for_bye=30))
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


if __name__ == "__main__":
    sys.exit(main())
