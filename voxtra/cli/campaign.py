"""``voxtra campaign``: look at a campaign's durable state and steer every worker of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from voxtra import runner

if TYPE_CHECKING:
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
    """A campaign's state (STORE: its SQLite file, or a postgresql:// URL with --name):
    what is done and pending, pause and resume every worker, export the results."""


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
