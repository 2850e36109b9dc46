"""``voxtra campaign``: run a campaign with a live view of its progress, look at its
durable state and steer every worker of it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from voxtra import logs, runner

if TYPE_CHECKING:
    from voxtra.outbound import Campaign
    from voxtra.outbound.store import CampaignStore

T = TypeVar("T")


def _store(store: str, name: str | None) -> CampaignStore:
    from voxtra.outbound.postgres import PostgresStore
    from voxtra.outbound.sqlite import SqliteStore

    if store.startswith(("postgresql://", "postgres://")):
        if name is None:
            raise click.UsageError("a PostgreSQL store holds many campaigns: give --name")
        return PostgresStore(store, name)
    if not Path(store).is_file():
        raise click.ClickException(f"{store}: no campaign store there (the SQLite file "
                                   "beside the campaign, NAME.campaign.db by default)")
    return SqliteStore(store)


def _with_store(store: CampaignStore, work: Callable[[CampaignStore], Awaitable[T]]) -> T:
    from voxtra.outbound.errors import CampaignError

    async def run() -> T:
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return runner.run(run())
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None


STORE = click.argument("store")
NAME = click.option("--name", help="the campaign's name in a PostgreSQL store")


@click.group()
def campaign() -> None:
    """Run a campaign with a live view of its progress; look at its state (STORE: its
    SQLite file, or a postgresql:// URL with --name), pause and resume every worker,
    export the results."""


@campaign.command()
@click.argument("target")
@click.option("--export", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="write every contact's outcome and dials there at the end (JSON if it "
                   "ends in .json, else CSV)")
@click.option("--live/--no-live", default=None,
              help="a live table (default: when the output is a terminal; else a line "
                   "every --every seconds)")
@click.option("--every", type=float, default=5.0, show_default=True,
              help="seconds between progress lines without --live")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                               case_sensitive=False),
              default="INFO", show_default=True)
def run(target: str, out: Path | None, live: bool | None, every: float,
        log_level: str) -> int:
    """Run the campaign TARGET (module:campaign, or campaign.py[:campaign]; a Campaign, or
    a function making one) through its app, showing contacts by outcome, dials sent, the
    dial rate and the time left. Ctrl-C or SIGTERM stops starting dials and waits for
    those under way; a second one stops at once (a restart resumes). Exit 1 when
    contacts are left undone (stopped, or past the deadline)."""
    from voxtra.cli.target import load_campaign

    logs.configure(log_level.upper(), force=True)
    found = load_campaign(target)
    live = sys.stdout.isatty() if live is None else live
    counts = runner.run(_dial(found, live, every, log_level.upper()))
    if out is not None:
        runner.run(found.export(out))
        click.echo(f"results written to {out}")
    return 0 if "pending" not in counts and "dialling" not in counts else 1


async def _dial(found: Campaign, live: bool, every: float, log_level: str
                ) -> dict[str, int]:
    """``found.run()`` inside its app, with the progress shown as it goes."""
    from rich.console import Console
    from rich.live import Live

    from voxtra.cli.progress import Progress

    loop = asyncio.get_running_loop()
    progress, console = Progress(), Console()
    stops = 0

    def stop() -> None:
        nonlocal stops
        stops += 1
        if stops == 1:
            found.cancel()
            console.print("stopping: no new dials; waiting for those under way "
                          "(again to stop at once)")
        else:
            dialling.cancel()

    async with found.app:
        dialling = asyncio.ensure_future(found.run())
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        view = Live(console=console, refresh_per_second=4) if live \
            else contextlib.nullcontext()
        try:
            with view:
                if live:  # log lines go above the table (stderr is the view's now)
                    logs.configure(log_level, force=True)
                shown = 0.0
                while not dialling.done():
                    await asyncio.wait([dialling], timeout=0.25 if live else min(every, 1.0))
                    figures = progress.update(time.monotonic(), await found.counts(),
                                              found.dials_sent)
                    if isinstance(view, Live):
                        view.update(figures.table(f"campaign {found.name}"))
                    elif time.monotonic() - shown >= every or dialling.done():
                        click.echo(figures.line())
                        shown = time.monotonic()
            return await dialling
        except asyncio.CancelledError:
            click.echo("stopped with dials under way: a restart settles and resumes them")
            return await found.counts()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            if live:
                logs.configure(log_level, force=True)


@campaign.command()
@STORE
@NAME
def status(store: str, name: str | None) -> int:
    """Contacts by status and final outcome, the abandon rate, paused or not."""

    async def look(s: CampaignStore) -> tuple[dict[str, int], tuple[int, int], bool]:
        return await s.counts(), await s.abandonment(), await s.paused()

    counts, (abandoned, answered), paused = _with_store(_store(store, name), look)
    for key, count in sorted(counts.items()):
        click.echo(f"{key:<14} {count}")
    rate = f"{100 * abandoned / answered:.1f} %" if answered else "-"
    click.echo(f"{'abandoned':<14} {abandoned} of {answered} answered ({rate})")
    click.echo(f"{'paused':<14} {'yes' if paused else 'no'}")
    return 0


def _pausing(paused: bool, done: str, doc: str) -> click.Command:
    """``pause`` or ``resume``: the store's flag every worker reads."""

    @STORE
    @NAME
    def command(store: str, name: str | None) -> int:
        _with_store(_store(store, name), lambda s: s.set_paused(paused))
        click.echo(done)
        return 0

    command.__doc__ = doc
    return click.command("pause" if paused else "resume")(command)


campaign.add_command(_pausing(True, "paused: every worker stops starting dials within a "
                              "second", "Hold every worker: no new dial starts (dials "
                              "under way go on)."))
campaign.add_command(_pausing(False, "resumed", "Let every worker dial again."))


@campaign.command()
@STORE
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@NAME
def export(store: str, out: Path, name: str | None) -> int:
    """Every contact's outcome, dials and results to OUT (JSON if it ends in .json,
    else CSV)."""
    from voxtra.outbound.results import write_results

    records = _with_store(_store(store, name), lambda s: s.contacts())
    write_results(records, out)
    click.echo(f"{len(records)} contacts written to {out}")
    return 0
