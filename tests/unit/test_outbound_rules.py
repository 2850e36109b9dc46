"""Calling windows, retries and contact lists of outbound campaigns."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from voxtra.outbound import CallingWindow, CampaignError, CampaignSettings, Contact, RetryPolicy

NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")


def test_the_window_is_the_contacts_own_hours() -> None:
    window = CallingWindow()
    # 14:30 UTC in January: 9:30 in New York (open), 6:30 in Los Angeles (shut).
    at = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)
    assert window.opening(at, NEW_YORK) == at
    assert window.opening(at, LOS_ANGELES) == datetime(2026, 1, 13, 16, 0, tzinfo=UTC)


def test_the_window_shuts_at_nine_in_the_evening_and_opens_the_next_morning() -> None:
    window = CallingWindow()
    before = datetime(2026, 1, 14, 1, 59, tzinfo=UTC)  # 20:59 in New York
    assert window.opening(before, NEW_YORK) == before
    after = datetime(2026, 1, 14, 2, 0, tzinfo=UTC)  # 21:00
    assert window.opening(after, NEW_YORK) == datetime(2026, 1, 14, 13, 0, tzinfo=UTC)


def test_the_window_follows_daylight_saving_time() -> None:
    # 8:00 in New York is 13:00 UTC in winter and 12:00 UTC in summer.
    window = CallingWindow()
    assert window.opening(datetime(2026, 3, 7, 3, tzinfo=UTC), NEW_YORK) == \
        datetime(2026, 3, 7, 13, tzinfo=UTC)
    assert window.opening(datetime(2026, 3, 9, 3, tzinfo=UTC), NEW_YORK) == \
        datetime(2026, 3, 9, 12, tzinfo=UTC)


def test_a_window_on_weekdays_skips_the_weekend() -> None:
    window = CallingWindow(start=time(9), end=time(17), days=frozenset(range(5)))
    saturday = datetime(2026, 1, 17, 12, tzinfo=UTC)
    assert window.opening(saturday, ZoneInfo("Europe/London")) == \
        datetime(2026, 1, 19, 9, tzinfo=UTC)


@pytest.mark.parametrize("fields", [{"start": time(21), "end": time(8)},
                                    {"days": frozenset()}, {"days": frozenset({7})}])
def test_a_window_that_cannot_open_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CallingWindow(**fields)  # type: ignore[arg-type]


def test_retries_back_off_and_stop_at_their_attempts() -> None:
    policy = RetryPolicy()
    assert [policy.wait("busy", n) for n in (1, 2, 3)] == [120, 240, None]
    assert policy.wait("failed", 1) is None
    assert policy.wait("answered", 1) is None
    assert policy.wait("do_not_call", 1) is None
    assert RetryPolicy(busy=None).wait("busy", 1) is None


def test_settings_refuse_an_unknown_zone_and_a_naive_deadline() -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        CampaignSettings(dial="PJSIP/{number}@trunk", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="time zone"):
        CampaignSettings(dial="PJSIP/{number}@trunk", deadline=datetime(2026, 1, 1))


def test_contacts_from_csv(tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    source.write_text("number,name,timezone\n+1 (555) 010-0199,Ada,America/Chicago\n"
                      "5550100,Grace,\n")
    ada, grace = Contact.from_csv(source)
    assert ada == Contact("+15550100199", {"name": "Ada"}, "America/Chicago")
    assert grace.number == "5550100" and grace.timezone is None


@pytest.mark.parametrize(("text", "error"), [
    ("phone,name\n555,Ada\n", "no 'number' column"),
    ("number,timezone\n555,Mars/Olympus\n", "line 2: unknown time zone 'Mars/Olympus'"),
    ("number\n\n , \n", "no number"),
])
def test_a_bad_contact_list_says_where(tmp_path: Path, text: str, error: str) -> None:
    source = tmp_path / "list.csv"
    source.write_text(text)
    with pytest.raises(CampaignError, match=error):
        Contact.from_csv(source)
