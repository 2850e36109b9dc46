"""The campaign stores, SQLite and PostgreSQL (a throwaway cluster): claims, outcomes,
the campaign's limits, and what survives a restart."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from voxtra.outbound import CampaignError, CampaignStore, Contact, SqliteStore
from voxtra.outbound.postgres import PostgresStore
from voxtra.outbound.store import Limits
from voxtra.sandbox.ports import free_port

LIMITS = Limits(max_concurrent=10, calls_per_second=100)


Opener = Callable[[], Awaitable[CampaignStore]]


@pytest.fixture(params=["sqlite", "postgres"])
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the test's store (the same one each time it is called)."""
    campaign = f"c{uuid.uuid4().hex}"

    async def open_store() -> CampaignStore:
        store: CampaignStore = SqliteStore(tmp_path / "c.db") if request.param == "sqlite" \
            else PostgresStore(request.getfixturevalue("postgres_dsn"), campaign)
        await store.open()
        return store
    return open_store


async def test_a_contact_is_claimed_once_and_its_dials_recorded(opened: Opener) -> None:
    store = await opened()
    assert await store.add([Contact("100", {"name": "Ada"}), Contact("200")], now=10) == 2
    assert [r.number for r in await store.due(now=10, limit=5)] == ["100", "200"]
    claim = await store.claim("100", "chan-1", "worker-a", now=11, lease=60, limits=LIMITS)
    assert claim is not None and claim.attempt == 1 and claim.variables == {"name": "Ada"}
    assert await store.claim("100", "chan-2", "worker-b", now=11, lease=60, limits=LIMITS) is None
    assert [r.number for r in await store.due(now=11, limit=5)] == ["200"]
    await store.finish(claim, "busy", 12, retry_at=100, cause=17)
    assert [r.number for r in await store.due(now=99, limit=5)] == ["200"]
    assert await store.next_due() == 10  # "200", never dialled
    again = await store.claim("100", "chan-3", "worker-a", now=100, lease=60, limits=LIMITS)
    assert again is not None and again.attempt == 2
    await store.answered(again, 101)
    await store.finish(again, "answered", 103, retry_at=None, result={"said": "yes"})
    [ada, _] = await store.contacts()
    assert (ada.status, ada.outcome, ada.attempts) == ("done", "answered", 2)
    assert [(a.outcome, a.cause, a.channel_id) for a in ada.history] == [
        ("busy", 17, "chan-1"), ("answered", None, "chan-3")]
    assert ada.history[1].answered == 101 and ada.history[1].result == {"said": "yes"}
    assert await store.counts() == {"answered": 1, "pending": 1}
    await store.close()


async def test_the_state_survives_a_reopen_and_contacts_are_not_added_twice(
        opened: Opener) -> None:
    store = await opened()
    await store.add([Contact("100"), Contact("200")], now=0)
    claim = await store.claim("200", "chan-1", "worker-a", now=1, lease=60, limits=LIMITS)
    assert claim is not None
    await store.settle("100", "do_not_call", 1)
    await store.close()
    store = await opened()
    assert await store.add([Contact("100"), Contact("200"), Contact("300")], now=5) == 1
    assert [c.owner for c in await store.held()] == ["worker-a"]
    assert await store.counts() == {"do_not_call": 1, "dialling": 1, "pending": 1}
    await store.renew("worker-a", 500)
    assert (await store.held())[0].lease_until == 500
    await store.close()


async def test_a_finish_for_a_dial_already_settled_changes_nothing(opened: Opener) -> None:
    store = await opened()
    await store.add([Contact("100")], now=0)
    claim = await store.claim("100", "chan-1", "worker-a", now=0, lease=60, limits=LIMITS)
    assert claim is not None
    await store.finish(claim, "answered", 1, retry_at=None)
    await store.finish(claim, "interrupted", 2, retry_at=5)  # a second worker, too late
    [record] = await store.contacts()
    assert (record.status, record.outcome) == ("done", "answered")
    assert [(a.outcome, a.ended) for a in record.history] == [("answered", 1)]
    await store.close()


async def test_a_store_that_cannot_be_opened_says_so(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(CampaignError, match="cannot open campaign store"):
        await SqliteStore(tmp_path / "file" / "c.db").open()
    unreachable = PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/x", "c")
    with pytest.raises(CampaignError, match="cannot open the campaign store in PostgreSQL"):
        await unreachable.open()


async def test_claims_hold_the_campaigns_limits(opened: Opener) -> None:
    """Each claim gets the next start slot, 1 / calls_per_second after the one before,
    and none is given while max_concurrent dials are under way (whichever worker)."""
    store = await opened()
    await store.add([Contact(str(n)) for n in range(5)], now=0)
    limits = Limits(max_concurrent=3, calls_per_second=4)
    claims = [await store.claim(str(n), f"chan-{n}", f"worker-{n % 2}", now=10, lease=60,
                                limits=limits) for n in range(4)]
    assert [c.start_at for c in claims[:3] if c] == [10, 10.25, 10.5]
    assert claims[3] is None and await store.dialling() == 3
    first = claims[0]
    assert first is not None
    await store.finish(first, "busy", 11, retry_at=None)
    later = await store.claim("3", "chan-3", "worker-1", now=20, lease=60, limits=limits)
    assert later is not None and later.start_at == 20  # the slot is never in the past
    await store.close()


async def test_abandoned_calls_are_counted_for_the_whole_campaign(opened: Opener) -> None:
    store = await opened()
    await store.add([Contact(str(n)) for n in range(4)], now=0)
    claims = [await store.claim(str(n), f"chan-{n}", "worker-a", now=0, lease=60,
                                limits=LIMITS) for n in range(4)]
    assert all(claims) and await store.abandonment() == (0, 0)
    first, second, third, fourth = claims
    assert first and second and third and fourth
    await store.abandoned(first)
    assert await store.abandonment() == (1, 1)  # counted before its call ends
    await store.finish(first, "answered", 1, retry_at=None)
    await store.finish(second, "answered", 1, retry_at=None)
    await store.finish(third, "machine", 1, retry_at=None)  # machines do not count
    await store.finish(fourth, "busy", 1, retry_at=5)
    assert await store.abandonment() == (1, 2)
    [record, *_] = await store.contacts()
    assert record.history[0].abandoned
    await store.close()


async def test_a_pause_for_every_worker_is_kept_by_the_store(opened: Opener) -> None:
    store = await opened()
    assert not await store.paused()
    await store.set_paused(True)
    await store.close()
    other = await opened()  # another worker, or the same after a restart
    assert await other.paused()
    await other.set_paused(False)
    assert not await other.paused()
    await other.close()


async def test_a_held_dial_names_its_asterisk_and_whether_it_was_answered(
        opened: Opener) -> None:
    """What another worker needs to settle a dial whose worker died: the Asterisk it went
    through, and whether its answer was recorded."""
    store = await opened()
    await store.add([Contact("100"), Contact("200")], now=10)
    first = await store.claim("100", "chan-1", "worker-a", now=11, lease=60, limits=LIMITS,
                              asterisk="e1@127.0.0.1:8088")
    second = await store.claim("200", "chan-2", "worker-a", now=11, lease=60, limits=LIMITS,
                               asterisk="e1@127.0.0.1:8088")
    assert first is not None and second is not None
    await store.answered(first, 12)
    held = {c.number: (c.asterisk, c.answered) for c in await store.held()}
    assert held == {"100": ("e1@127.0.0.1:8088", True), "200": ("e1@127.0.0.1:8088", False)}
    await store.finish(second, "no_answer", 13, retry_at=20)
    again = await store.claim("200", "chan-3", "worker-b", now=20, lease=60, limits=LIMITS,
                              asterisk="e2@10.0.0.2:8088")
    assert again is not None
    assert {c.number: (c.asterisk, c.answered) for c in await store.held()}["200"] == (
        "e2@10.0.0.2:8088", False)  # the last dial's outcome is no answer of this one
    await store.close()


async def test_an_sqlite_store_made_before_dials_named_their_asterisk_opens(
        tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("CREATE TABLE contacts (number TEXT PRIMARY KEY, position INTEGER NOT NULL,"
                   " variables TEXT NOT NULL, timezone TEXT, status TEXT NOT NULL, attempts "
                   "INTEGER NOT NULL DEFAULT 0, outcome TEXT, next_at REAL NOT NULL, owner "
                   "TEXT, lease_until REAL, channel_id TEXT)")
        db.execute("INSERT INTO contacts VALUES ('100', 0, '{}', NULL, 'pending', 0, NULL, 0,"
                   " NULL, NULL, NULL)")
    store = SqliteStore(tmp_path / "old.db")
    await store.open()
    claim = await store.claim("100", "chan-1", "w", now=1, lease=60, limits=LIMITS,
                              asterisk="e1@h:1")
    assert claim is not None and [c.asterisk for c in await store.held()] == ["e1@h:1"]
    await store.close()


async def test_late_claims_do_not_slow_the_schedule_nor_an_idle_spell_burst(
        opened: Opener) -> None:
    """Claims that come a little late (the time a claim takes) leave the start slots on
    the asked rate; after an idle spell the next slots follow from now."""
    store = await opened()
    await store.add([Contact(str(n)) for n in range(6)], now=0)
    limits = Limits(max_concurrent=10, calls_per_second=4)
    starts = []
    for n, now in enumerate((10.0, 10.26, 10.51, 10.76)):  # each 10 ms after its slot
        claim = await store.claim(str(n), f"chan-{n}", "w", now=now, lease=60, limits=limits)
        assert claim is not None
        starts.append(claim.start_at)
    assert starts == [10.0, 10.26, 10.51, 10.76]  # never before the claim
    assert await store.next_start() == 11.0  # four slots on, not 11.04
    idle = await store.claim("4", "chan-4", "w", now=20, lease=60, limits=limits)
    assert idle is not None and idle.start_at == 20
    assert abs(await store.next_start() - (20 - 0.02 + 0.25)) < 1e-9  # no catching up
    await store.close()
