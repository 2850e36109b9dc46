"""Where a campaign keeps its contacts, their dials and their outcomes.

Every dial is written before it is placed (the contact claimed, the attempt and the
channel id it will use recorded) and after it ends, so a process killed at any moment
and started again resumes where it was: it never dials a contact whose call was
answered, and never loses one. A claim is held by one worker (``owner``) until its
lease runs out; a worker renews its leases while it runs, and the claims of a dead
worker go back to the others.

The campaign's limits hold across every worker sharing a store: a claim is refused
while ``max_concurrent`` dials are under way, and each claim is given the next start
slot, ``1 / calls_per_second`` after the one before (:class:`Limits`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from voxtra.outbound.contacts import Contact


class Status:
    """Where a contact stands: waiting for a dial, being dialled, finished."""

    PENDING = "pending"
    DIALLING = "dialling"
    DONE = "done"


@dataclass(frozen=True)
class Limits:
    """Dials under way at once, and dial starts per second, for the whole campaign."""

    max_concurrent: int
    calls_per_second: float


@dataclass(frozen=True)
class Claim:
    """One dial of one contact, held by one worker."""

    number: str
    variables: dict[str, str]
    timezone: str | None
    #: This dial's number, from 1.
    attempt: int
    #: The channel id the dial uses (``POST /channels/{channelId}``), recorded first.
    channel_id: str
    owner: str
    lease_until: float
    #: When the dial may start (its slot under the campaign's calls per second).
    start_at: float = 0.0
    #: The Asterisk the dial goes through (:attr:`Campaign.asterisk`): only a worker on
    #: the same one can see the dial's channel.
    asterisk: str = ""
    #: The dial's answer was recorded (:meth:`CampaignStore.answered`).
    answered: bool = False


@dataclass
class AttemptRecord:
    attempt: int
    channel_id: str
    started: float
    answered: float | None = None
    ended: float | None = None
    outcome: str | None = None
    cause: int | None = None
    detection: dict[str, Any] | None = None
    result: Any = None
    #: Answered by a person whom no one took within the campaign's ``abandon_after``.
    abandoned: bool = False


@dataclass
class ContactRecord:
    number: str
    variables: dict[str, str]
    timezone: str | None
    status: str
    attempts: int
    #: The latest dial's outcome (the final one once ``status`` is done).
    outcome: str | None
    next_at: float
    history: list[AttemptRecord] = field(default_factory=list)


class CampaignStore(ABC):
    """A campaign's durable state; times are Unix seconds. One store holds one
    campaign; workers sharing a campaign share its store."""

    @abstractmethod
    async def open(self) -> None:
        """Connect, and create what is missing (nothing if open already)."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnect (nothing if closed); :meth:`open` may connect again."""

    @abstractmethod
    async def add(self, contacts: Sequence[Contact], now: float) -> int:
        """Add the contacts not there yet (by number); how many were new. Contacts
        already known keep their state, so a restarted campaign resumes."""

    @abstractmethod
    async def due(self, now: float, limit: int) -> list[ContactRecord]:
        """Up to ``limit`` pending contacts whose next dial is due, soonest first."""

    @abstractmethod
    async def next_due(self) -> float | None:
        """When the soonest pending contact is due; None when none is pending."""

    @abstractmethod
    async def defer(self, number: str, until: float) -> None:
        """Move a pending contact's next dial to ``until`` (its calling window is shut)."""

    @abstractmethod
    async def claim(self, number: str, channel_id: str, owner: str, now: float,
                    lease: float, limits: Limits, asterisk: str = "") -> Claim | None:
        """Take a pending, due contact for one dial through ``asterisk``, record the
        attempt and give it the next start slot; None if another worker took it first,
        or if ``limits`` allow no more dials under way."""

    @abstractmethod
    async def dialling(self) -> int:
        """Dials under way, by every worker."""

    @abstractmethod
    async def next_start(self) -> float:
        """The campaign's next free start slot (0 before the first dial): a worker waits
        for it before claiming, so that no slot is taken far ahead."""

    @abstractmethod
    async def answered(self, claim: Claim, at: float) -> None:
        """The dial was answered: the contact's outcome is final from here on."""

    @abstractmethod
    async def abandoned(self, claim: Claim) -> None:
        """The dial's call was answered and no one took it in time."""

    @abstractmethod
    async def abandonment(self) -> tuple[int, int]:
        """Calls abandoned, and calls answered by people (not machines), in the whole
        campaign."""

    @abstractmethod
    async def finish(self, claim: Claim, outcome: str, at: float, *,
                     retry_at: float | None, cause: int | None = None,
                     detection: dict[str, Any] | None = None, result: Any = None) -> None:
        """The dial ended: pending again from ``retry_at``, or done (None)."""

    @abstractmethod
    async def settle(self, number: str, outcome: str, at: float) -> None:
        """End a pending contact without dialling it (a do-not-call number)."""

    @abstractmethod
    async def held(self) -> list[Claim]:
        """Every claim being dialled, by any worker."""

    @abstractmethod
    async def renew(self, owner: str, lease_until: float) -> None:
        """Extend every lease ``owner`` holds."""

    @abstractmethod
    async def contacts(self) -> list[ContactRecord]:
        """Every contact with its dials, in the order they were added."""

    @abstractmethod
    async def counts(self) -> dict[str, int]:
        """Contacts by status (pending, dialling) and, when done, by final outcome."""

    @abstractmethod
    async def set_paused(self, paused: bool) -> None:
        """Hold (or release) every worker of the campaign: none starts a dial while it
        is paused; dials under way go on."""

    @abstractmethod
    async def paused(self) -> bool:
        """Whether the campaign is paused for every worker."""


# Rows as both stores select them ------------------------------------------------------

#: The contact columns :func:`contact_of` reads, in order.
CONTACT_COLUMNS = "number, variables, timezone, status, attempts, outcome, next_at"
#: The attempt columns :func:`attempt_of` reads, in order (after the number).
ATTEMPT_COLUMNS = ("number, attempt, channel_id, started, answered, ended, outcome, cause, "
                   "detection, result, abandoned")


def to_json(value: Any) -> str | None:
    """A handler's result or a detection as stored (what JSON cannot hold, as text)."""
    return None if value is None else json.dumps(value, default=str)


def contact_of(row: Sequence[Any]) -> ContactRecord:
    return ContactRecord(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5], row[6])


def attempt_of(row: Sequence[Any]) -> AttemptRecord:
    """A row of :data:`ATTEMPT_COLUMNS` (its first, the number, left out)."""
    return AttemptRecord(attempt=row[1], channel_id=row[2], started=row[3], answered=row[4],
                         ended=row[5], outcome=row[6], cause=row[7],
                         detection=json.loads(row[8]) if row[8] else None,
                         result=json.loads(row[9]) if row[9] else None,
                         abandoned=bool(row[10]))


#: Seconds by which a claim or a send may come late without pushing the campaign's
#: later start slots, or this worker's later sends, back.
CATCH_UP = 0.02


def start_slot(now: float, free: float | None, limits: Limits) -> tuple[float, float]:
    """When a dial claimed at ``now`` starts, the campaign's next free slot being ``free``
    (None before the first dial), and the slot after it. The dial never starts before
    ``now``; the schedule moves on from the slot, not from ``now``, when the claim came
    up to :data:`CATCH_UP` late (the claim's own time must not slow the campaign
    below its rate), and from ``now`` otherwise (after an idle spell: no burst)."""
    start = now if free is None else max(now, free)
    base = now if free is None else max(free, now - CATCH_UP)
    return start, base + 1.0 / limits.calls_per_second


#: The columns of a contact that :func:`claim_of` reads.
CLAIM_COLUMNS = ("number, variables, timezone, attempts, channel_id, owner, lease_until, "
                 "asterisk, outcome")


def claim_of(row: Sequence[Any]) -> Claim:
    """A row of :data:`CLAIM_COLUMNS` (a dialling contact's)."""
    return Claim(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5], row[6],
                 asterisk=row[7] or "", answered=row[8] == "answered")
