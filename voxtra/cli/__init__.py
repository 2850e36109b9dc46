"""The ``voxtra`` command.

Exit codes: 0 done, 1 failed (a check, a call, Asterisk), 2 bad usage or settings,
3 the sandbox is not running. Shell completion: ``eval "$(_VOXTRA_COMPLETE=bash_source
voxtra)"`` (``zsh_source``, ``fish_source`` for the other shells).
"""

from __future__ import annotations

import logging
import sys

import click

from voxtra.ari.errors import AriError
from voxtra.asterisk.conf import AsteriskConfError
from voxtra.cli.call import call
from voxtra.cli.campaign import campaign
from voxtra.cli.check import check, models
from voxtra.cli.conf import render_conf
from voxtra.cli.init import init
from voxtra.cli.run import run
from voxtra.cli.sandbox import demo, sandbox
from voxtra.sandbox.errors import SandboxError, SippError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="voxtra-asterisk", prog_name="voxtra")
def cli() -> None:
    """Voxtra: phone-call apps on Asterisk's REST Interface.

    \b
    First steps:
      voxtra demo                 start the sandbox Asterisk and call an example app
      voxtra run app:app          serve your app (settings from VOXTRA_*, .env, YAML)
      voxtra call +15550100       call it through the sandbox, hear what comes back
      voxtra check app:app        is everything the app needs there?
      voxtra init NAME            a new project, with tests that pass
    """


for command in (run, call, check, init, campaign, demo, sandbox, models, render_conf):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run the command; its exit code. Errors are one line each, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("voxtra.sandbox.rootfs").setLevel(logging.INFO)  # the first build's steps
    try:
        code = cli.main(args=argv, prog_name="voxtra", standalone_mode=False)
    except click.UsageError as exc:  # one line, and where the help is
        where = exc.ctx.command_path if exc.ctx is not None else "voxtra"
        print(f"{where}: {exc.format_message()} (see {where} --help)", file=sys.stderr)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        print("voxtra: interrupted", file=sys.stderr)
        return 130
    except (SandboxError, SippError, AriError, AsteriskConfError) as exc:
        print(f"voxtra: {exc}", file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0
