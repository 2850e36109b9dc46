"""The SQLite campaign store: claims, outcomes, and what survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxtra.outbound import CampaignError, Contact, SqliteStore


async def opened(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    await store.open()
    return store


async def test_a_contact_is_claimed_once_and_its_dials_recorded(tmp_path: Path) -> None:
    store = await opened(tmp_path / "c.db")
    assert await store.add([Contact("100", {"name": "Ada"}), Contact("200")], now=10) == 2
    assert [r.number for r in await store.due(now=10, limit=5)] == ["100", "200"]
    claim = await store.claim("100", "chan-1", "worker-a", now=11, lease=60)
    assert claim is not None and claim.attempt == 1 and claim.variables == {"name": "Ada"}
    assert await store.claim("100", "chan-2", "worker-b", now=11, lease=60) is None
    assert [r.number for r in await store.due(now=11, limit=5)] == ["200"]
    await store.finish(claim, "busy", 12, retry_at=100, cause=17)
    assert [r.number for r in await store.due(now=99, limit=5)] == ["200"]
    assert await store.next_due() == 10  # "200", never dialled
    again = await store.claim("100", "chan-3", "worker-a", now=100, lease=60)
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
        tmp_path: Path) -> None:
    store = await opened(tmp_path / "c.db")
    await store.add([Contact("100"), Contact("200")], now=0)
    claim = await store.claim("200", "chan-1", "worker-a", now=1, lease=60)
    assert claim is not None
    await store.settle("100", "do_not_call", 1)
    await store.close()
    store = await opened(tmp_path / "c.db")
    assert await store.add([Contact("100"), Contact("200"), Contact("300")], now=5) == 1
    assert [c.owner for c in await store.held()] == ["worker-a"]
    assert await store.counts() == {"do_not_call": 1, "dialling": 1, "pending": 1}
    await store.renew("worker-a", 500)
    assert (await store.held())[0].lease_until == 500
    await store.close()


async def test_a_finish_for_a_dial_already_settled_changes_nothing(tmp_path: Path) -> None:
    store = await opened(tmp_path / "c.db")
    await store.add([Contact("100")], now=0)
    claim = await store.claim("100", "chan-1", "worker-a", now=0, lease=60)
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
