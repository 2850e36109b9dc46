"""What a campaign does before it dials, with no Asterisk: the do-not-call check (a
listed number is settled, a check that fails never dials blind), calling windows, the
start slots, and dial strings that name a variable a contact lacks."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from voxtra import CallSession, VoxtraApp
from voxtra.outbound import Campaign, CampaignError, Contact
from voxtra.outbound import campaign as campaign_module
from voxtra.outbound.campaign import DNC_RETRY
from voxtra.retry import Backoff
from voxtra.settings import VoxtraSettings

NOON_UTC = datetime(2026, 1, 13, 12, tzinfo=UTC).timestamp()  # 7:00 in New York


async def hang_up(call: CallSession) -> None:
    await call.hangup()


def app() -> VoxtraApp:
    return VoxtraApp(VoxtraSettings(ari_password=SecretStr("unused-in-this-test")))


async def test_the_checks_before_a_dial(tmp_path: Path) -> None:
    def listed(number: str) -> bool:
        if number == "300":
            raise OSError("the do-not-call service is down")
        return number == "200"

    campaign = Campaign(
        app(), [Contact("100"), Contact("200"), Contact("300"),
                Contact("400", timezone="America/New_York"), Contact("500")],
        hang_up, dial="PJSIP/{number}@trunk", do_not_call=listed, clock=lambda: NOON_UTC,
        calls_per_second=2, store=tmp_path / "c.db")
    store = campaign.store
    await store.open()
    await store.add(campaign.contacts, NOON_UTC)
    first = await campaign._next()
    second = await campaign._next()
    assert first is not None and second is not None
    assert (first.number, second.number) == ("100", "500")
    assert (first.start_at, second.start_at) == (NOON_UTC, NOON_UTC + 0.5)
    assert await campaign._next() is None
    records = {r.number: r for r in await store.contacts()}
    assert (records["200"].status, records["200"].outcome) == ("done", "do_not_call")
    assert records["300"].status == "pending" and records["300"].attempts == 0
    assert records["300"].next_at == NOON_UTC + DNC_RETRY
    assert records["400"].next_at == datetime(2026, 1, 13, 13, tzinfo=UTC).timestamp()
    await store.close()


def test_a_dial_string_naming_a_missing_variable_is_refused() -> None:
    with pytest.raises(CampaignError, match="'trunk' is not a contact variable"):
        Campaign(app(), [Contact("100", {"region": "eu"})], hang_up,
                 dial="PJSIP/{number}@{trunk}")


def test_a_malformed_dial_string_is_refused() -> None:
    with pytest.raises(CampaignError, match="give names in braces"):
        Campaign(app(), ["100"], hang_up, dial="PJSIP/{}@trunk")


async def test_a_dials_end_is_written_though_the_store_fails_at_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    """A final write that fails (a locked or unreachable database) is tried again until
    it lands: a contact left "dialling" would be taken for an interrupted dial after a
    restart, and dialled again though it may have been answered."""
    monkeypatch.setattr(campaign_module, "FINAL_WRITE_BACKOFF", Backoff(base=0.01, cap=0.02))
    campaign = Campaign(app(), [Contact("100")], hang_up, dial="PJSIP/{number}@trunk",
                        clock=lambda: NOON_UTC, store=tmp_path / "c.db")
    store = campaign.store
    await store.open()
    await store.add(campaign.contacts, NOON_UTC)
    claim = await campaign._next()
    assert claim is not None
    finish, failures = store.finish, []

    async def failing(*args: Any, **fields: Any) -> None:
        if len(failures) < 3:
            failures.append(args)
            raise sqlite3.OperationalError("database is locked")
        await finish(*args, **fields)

    monkeypatch.setattr(store, "finish", failing)
    with contextlib.suppress(Exception):  # the app is not connected: the dial fails
        await campaign._attempt(claim)
    [record] = await store.contacts()
    assert len(failures) == 3 and record.status != "dialling", record
    assert record.outcome == "interrupted" and len(record.history) == 1
    assert caplog.text.count("writing the end of 100's dial 1 failed") == 3
    await store.close()
    await campaign.app.client.close()
