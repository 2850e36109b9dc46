"""A campaign's rules: when a contact may be called, whether at all, and when to try
again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from voxtra.outbound.contacts import normalise

#: A do-not-call list: numbers, or a function of a number (async or not).
DoNotCall = Iterable[str] | Callable[[str], bool | Awaitable[bool]]

#: Stored outcomes besides :class:`~voxtra.call.state.Outcome`'s: the number is on a
#: do-not-call list (never dialled); the process ended while the dial was under way; an
#: answering machine answered (:mod:`voxtra.outbound.detection`).
DO_NOT_CALL = "do_not_call"
INTERRUPTED = "interrupted"
MACHINE = "machine"


class Retry(BaseModel):
    """Try again after an outcome: ``attempts`` dials in all, the second ``delay``
    seconds after the first, each later wait ``backoff`` times the one before."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=3, ge=1)
    delay: float = Field(default=300.0, ge=0)
    backoff: float = Field(default=2.0, ge=1)

    def wait(self, dialled: int) -> float | None:
        """Seconds until the next dial after ``dialled`` dials; None: no more."""
        if dialled >= self.attempts:
            return None
        return self.delay * self.backoff ** (dialled - 1)


class RetryPolicy(BaseModel):
    """What follows each outcome of a dial; an outcome set to None is final. An answered
    call and a number on the do-not-call list are always final."""

    model_config = ConfigDict(extra="forbid")

    busy: Retry | None = Retry(attempts=3, delay=120)
    no_answer: Retry | None = Retry(attempts=3, delay=600)
    congestion: Retry | None = Retry(attempts=5, delay=30)
    failed: Retry | None = None
    machine: Retry | None = Retry(attempts=2, delay=3600)
    #: The process ended while a dial was under way (its outcome is unknown).
    interrupted: Retry | None = Retry(attempts=3, delay=5, backoff=1)

    def wait(self, outcome: str, dialled: int) -> float | None:
        """Seconds until the next dial of a contact whose ``dialled``-th dial ended with
        ``outcome``; None when that outcome is its final one."""
        retry = getattr(self, outcome, None) if outcome in type(self).model_fields else None
        return None if retry is None else retry.wait(dialled)


class CallingWindow(BaseModel):
    """The hours a contact may be called, in the contact's own time zone: from ``start``
    to ``end`` on ``days`` (0 is Monday). The default, 8:00 to 21:00 every day, is the
    US rule for telemarketing calls (47 CFR 64.1200(c)(1))."""

    model_config = ConfigDict(extra="forbid")

    start: time = time(8)
    end: time = time(21)
    days: frozenset[int] = frozenset(range(7))

    @field_validator("days")
    @classmethod
    def _some_day(cls, days: frozenset[int]) -> frozenset[int]:
        if not days or not days <= set(range(7)):
            raise ValueError("days: one or more of 0 (Monday) to 6 (Sunday)")
        return days

    @model_validator(mode="after")
    def _starts_before_end(self) -> CallingWindow:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must come before end {self.end}")
        return self

    def opening(self, at: datetime, zone: ZoneInfo) -> datetime:
        """``at`` if the window is open then, else when it next opens (in UTC)."""
        local = at.astimezone(zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens = datetime.combine(day, self.start, zone)
            closes = datetime.combine(day, self.end, zone)
            if opens <= local < closes:
                return at
            if local < opens:
                return opens.astimezone(UTC)
        raise AssertionError("a window open one day a week opens within eight days")


def do_not_call_check(source: DoNotCall | None) -> Callable[[str], Awaitable[bool]]:
    """The do-not-call check as one async function of a number."""
    if source is None:
        async def never(number: str) -> bool:
            return False
        return never
    if callable(source):
        check = source

        async def ask(number: str) -> bool:
            answer = check(number)
            return bool(await answer) if isinstance(answer, Awaitable) else bool(answer)
        return ask
    numbers = {normalise(n) for n in source}

    async def listed(number: str) -> bool:
        return number in numbers
    return listed
