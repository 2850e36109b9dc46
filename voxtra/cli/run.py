"""``voxtra run``: serve an app, in one process or one per core."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import click

from voxtra import logs, runner
from voxtra.cli.options import name_value_pairs

log = logging.getLogger("voxtra.cli")

#: Seconds before a worker that died is started again; one that dies sooner than
#: SETTLING seconds after its start stops them all (a wrong setting, a broken module).
RESTART_DELAY = 1.0
SETTLING = 5.0


@click.command()
@click.argument("target")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="processes to run, one per core: worker i serves the Stasis "
                   "application APP_NAME-i (and /metrics on STATUS_PORT+i-1), and the "
                   "global VOXTRA_WORKERS tells the dialplan to hand calls to them in turn")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                               case_sensitive=False),
              default="INFO", show_default=True)
@click.option("--log-json", is_flag=True, help="one JSON object per log line")
@click.option("--config", type=click.Path(exists=True, dir_okay=False),
              help="a YAML file of settings (as VOXTRA_CONFIG)")
@click.option("-s", "--set", "assignments", multiple=True, metavar="NAME=VALUE",
              callback=name_value_pairs,
              help="a setting, as VOXTRA_NAME=VALUE would give it (repeatable): "
                   "-s status_port=9100 -s app_name=ivr")
@click.option("--reload", is_flag=True,
              help="for development: start again when a .py file under this directory "
                   "changes; the calls up are handed over and go on in the new process")
def run(target: str, workers: int, log_level: str, log_json: bool, config: str | None,
        assignments: dict[str, str], reload: bool) -> int:
    """Serve TARGET (package.module:app, or app.py) until SIGTERM or Ctrl-C.

    Settings come from --set, VOXTRA_* variables, .env and the YAML file (--config or
    VOXTRA_CONFIG), the first that gives one winning. Logs go to stderr: a banner with
    the routes, a line as each call starts and ends, each with the call's channel id.
    """
    for name, value in assignments.items():  # the flags win over the environment and files
        os.environ[f"VOXTRA_{name.upper()}"] = value
    if config is not None:
        os.environ["VOXTRA_CONFIG"] = config
    logs.configure(log_level.upper(), log_json, force=True)
    flags = ["--log-level", log_level] + (["--log-json"] if log_json else [])
    if reload:
        if workers > 1:
            raise click.UsageError("--reload runs one process: leave out --workers")
        return runner.run(_reload(target, flags))
    if workers > 1:
        return runner.run(_supervise(target, workers, flags))
    return runner.run(_serve(target))


async def _serve(target: str) -> int:
    from voxtra.ari.errors import AriError
    from voxtra.cli.target import load_app

    app = load_app(target)  # in the loop: a module that runs its app on import is told
    try:
        await app.serve()
    except AriError as exc:
        raise click.ClickException(str(exc)) from None
    return 0


async def _reload(target: str, flags: list[str]) -> int:
    """Run ``voxtra run`` in a child process; when a .py file here changes, SIGHUP it
    (it stops and leaves its calls up: :meth:`~voxtra.app.VoxtraApp.stop`) and start a
    new one, which adopts them."""
    try:
        from watchfiles import PythonFilter, awatch
    except ImportError:
        raise click.ClickException("--reload needs watchfiles: pip install "
                                   "'voxtra-asterisk[reload]'") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voxtra", "run", target, *flags)

    child = await start()
    try:
        async for changes in awatch(".", watch_filter=PythonFilter(), stop_event=stop):
            log.info("%s changed: handing the calls over to a new process",
                     ", ".join(sorted({path for _, path in changes})))
            child.send_signal(signal.SIGHUP)
            await child.wait()
            child = await start()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if child.returncode is None:
            child.terminate()
            await child.wait()
    return 0


async def _supervise(target: str, workers: int, flags: list[str]) -> int:
    """Run ``workers`` processes of ``voxtra run`` and keep them running; the global
    VOXTRA_WORKERS is set for their time and restored after (README: one process per
    core)."""
    from voxtra.ari.client import AriClient
    from voxtra.ari.errors import AriError
    from voxtra.cli.target import SettingsProblem
    from voxtra.settings import load_settings

    try:
        settings = load_settings()
    except ValueError as exc:
        raise SettingsProblem(exc) from None
    client = AriClient(settings.ari_url, settings.ari_user,
                       settings.ari_password.get_secret_value(), ca_file=settings.ari_ca_file)
    try:
        before = await client.asterisk.get_global_variable("VOXTRA_WORKERS") or "1"
        await client.asterisk.set_global_variable("VOXTRA_WORKERS", str(workers))
    except AriError as exc:
        await client.close()
        raise click.ClickException(str(exc)) from None
    names = [f"{settings.app_name}-{i}" for i in range(1, workers + 1)]
    log.info("%d workers serve %s; the dialplan hands calls to each in turn (global "
             "VOXTRA_WORKERS=%d)", workers, ", ".join(names), workers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    failed: list[str] = []

    async def keep(index: int, name: str) -> None:
        env = dict(os.environ, VOXTRA_APP_NAME=name)
        if settings.status_port:  # /metrics of each worker on a port of its own
            env["VOXTRA_STATUS_PORT"] = str(settings.status_port + index)
        while not stop.is_set():
            began = loop.time()
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voxtra", "run", target, *flags, env=env)
            ended = asyncio.ensure_future(process.wait())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                process.terminate()
                await ended
                return
            stopping.cancel()
            if loop.time() - began < SETTLING:  # it cannot start: starting again won't help
                failed.append(name)
                stop.set()
                return
            log.warning("worker %s exited (%s): starting it again in %.0f s", name,
                        process.returncode, RESTART_DELAY)
            await asyncio.sleep(RESTART_DELAY)

    try:
        await asyncio.gather(*(keep(i, name) for i, name in enumerate(names)))
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        try:
            await client.asterisk.set_global_variable("VOXTRA_WORKERS", before)
        except AriError as exc:
            log.warning("VOXTRA_WORKERS not restored to %s: %s", before, exc)
        await client.close()
    if failed:
        raise click.ClickException(f"worker {failed[0]} exited at its start (its error is "
                                   "above): every worker stopped")
    return 0
