"""A campaign store in PostgreSQL, shared by workers on several hosts
(``voxtra-asterisk[postgres]``).

Claims are taken with ``UPDATE ... WHERE number = (SELECT ... FOR UPDATE SKIP LOCKED)
RETURNING``: a row another transaction holds is skipped, not waited for. The campaign's
limits (dials under way, the next start slot) are read and written under a
transaction-scoped advisory lock on the campaign's name, so they hold across workers
(https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS). Times
are the workers' clocks: keep them in step (NTP).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from voxtra.outbound.contacts import Contact
from voxtra.outbound.errors import CampaignError
from voxtra.outbound.store import (
    ATTEMPT_COLUMNS,
    CLAIM_COLUMNS,
    CONTACT_COLUMNS,
    CampaignStore,
    Claim,
    ContactRecord,
    Limits,
    Status,
    attempt_of,
    claim_of,
    contact_of,
    start_slot,
    to_json,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS voxtra_contacts (
    campaign TEXT NOT NULL,
    number TEXT NOT NULL,
    position BIGINT NOT NULL,
    variables TEXT NOT NULL,
    timezone TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    next_at DOUBLE PRECISION NOT NULL,
    owner TEXT,
    lease_until DOUBLE PRECISION,
    channel_id TEXT,
    asterisk TEXT,
    PRIMARY KEY (campaign, number)
);
-- Stores made before dials named their Asterisk.
ALTER TABLE voxtra_contacts ADD COLUMN IF NOT EXISTS asterisk TEXT;
CREATE INDEX IF NOT EXISTS voxtra_contacts_due
    ON voxtra_contacts (campaign, status, next_at, position);
CREATE TABLE IF NOT EXISTS voxtra_attempts (
    campaign TEXT NOT NULL,
    number TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    channel_id TEXT NOT NULL,
    started DOUBLE PRECISION NOT NULL,
    answered DOUBLE PRECISION,
    ended DOUBLE PRECISION,
    outcome TEXT,
    cause INTEGER,
    detection TEXT,
    result TEXT,
    abandoned BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (campaign, number, attempt)
);
CREATE TABLE IF NOT EXISTS voxtra_campaigns (
    campaign TEXT PRIMARY KEY,
    next_start DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS voxtra_campaign_controls (
    campaign TEXT PRIMARY KEY,
    paused BOOLEAN NOT NULL DEFAULT false
);
"""


class PostgresStore(CampaignStore):
    """Campaign ``campaign``'s state in the PostgreSQL database at ``dsn``
    (``postgresql://user:password@host/db``); its tables are made when missing."""

    def __init__(self, dsn: str, campaign: str) -> None:
        self.dsn = dsn
        self.campaign = campaign
        self._pool: Any = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            import asyncpg  # type: ignore[import-untyped]
        except ImportError as exc:
            raise CampaignError("the PostgreSQL store needs asyncpg: install "
                                "voxtra-asterisk[postgres]") from exc
        try:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
            async with self._pool.acquire() as db, db.transaction():
                # Workers starting together would race to make the tables.
                await db.execute("SELECT pg_advisory_xact_lock(hashtext('voxtra-schema'))")
                await db.execute(_SCHEMA)
        except (OSError, asyncpg.PostgresError) as exc:
            await self.close()
            raise CampaignError(f"cannot open the campaign store in PostgreSQL: {exc}") \
                from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @contextlib.asynccontextmanager
    async def _db(self) -> AsyncIterator[Any]:
        """A connection; the database's errors come out as :class:`CampaignError`."""
        if self._pool is None:
            raise CampaignError(f"campaign store for {self.campaign!r} is not open")
        import asyncpg

        try:
            async with self._pool.acquire() as db:
                yield db
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise CampaignError(f"campaign store for {self.campaign!r}: {exc}") from exc

    async def add(self, contacts: Sequence[Contact], now: float) -> int:
        async with self._db() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.campaign)
            start = await db.fetchval(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM voxtra_contacts "
                "WHERE campaign = $1", self.campaign)
            added = 0
            for index, contact in enumerate(contacts):
                status = await db.execute(
                    "INSERT INTO voxtra_contacts (campaign, number, position, variables, "
                    "timezone, status, next_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                    "ON CONFLICT DO NOTHING", self.campaign, contact.number, start + index,
                    json.dumps(dict(contact.variables)), contact.timezone, Status.PENDING, now)
                added += status.endswith(" 1")
            return added

    async def due(self, now: float, limit: int) -> list[ContactRecord]:
        async with self._db() as db:
            rows = await db.fetch(
                f"SELECT {CONTACT_COLUMNS} FROM voxtra_contacts WHERE campaign = $1 "
                "AND status = $2 AND next_at <= $3 ORDER BY next_at, position LIMIT $4",
                self.campaign, Status.PENDING, now, limit)
        return [contact_of(row) for row in rows]

    async def next_due(self) -> float | None:
        async with self._db() as db:
            due = await db.fetchval(
                "SELECT MIN(next_at) FROM voxtra_contacts WHERE campaign = $1 AND status = $2",
                self.campaign, Status.PENDING)
        return None if due is None else float(due)

    async def defer(self, number: str, until: float) -> None:
        async with self._db() as db:
            await db.execute(
                "UPDATE voxtra_contacts SET next_at = $3 WHERE campaign = $1 AND number = $2 "
                "AND status = $4", self.campaign, number, until, Status.PENDING)

    async def claim(self, number: str, channel_id: str, owner: str, now: float,
                    lease: float, limits: Limits, asterisk: str = "") -> Claim | None:
        async with self._db() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.campaign)
            under_way = await db.fetchval(
                "SELECT COUNT(*) FROM voxtra_contacts WHERE campaign = $1 AND status = $2",
                self.campaign, Status.DIALLING)
            if under_way >= limits.max_concurrent:
                return None
            row = await db.fetchrow(
                "UPDATE voxtra_contacts SET status = $3, attempts = attempts + 1, owner = $4, "
                "lease_until = $5, channel_id = $6, asterisk = $9 WHERE campaign = $1 AND "
                "number = (SELECT number FROM voxtra_contacts WHERE campaign = $1 AND "
                "number = $2 AND status = $7 AND next_at <= $8 FOR UPDATE SKIP LOCKED) "
                "RETURNING variables, timezone, attempts",
                self.campaign, number, Status.DIALLING, owner, now + lease, channel_id,
                Status.PENDING, now, asterisk)
            if row is None:
                return None
            slot = await db.fetchval(
                "SELECT next_start FROM voxtra_campaigns WHERE campaign = $1", self.campaign)
            start_at, following = start_slot(now, slot, limits)
            await db.execute(
                "INSERT INTO voxtra_campaigns (campaign, next_start) VALUES ($1, $2) "
                "ON CONFLICT (campaign) DO UPDATE SET next_start = EXCLUDED.next_start",
                self.campaign, following)
            await db.execute(
                "INSERT INTO voxtra_attempts (campaign, number, attempt, channel_id, started) "
                "VALUES ($1, $2, $3, $4, $5)", self.campaign, number, row["attempts"],
                channel_id, start_at)
        return Claim(number, json.loads(row["variables"]), row["timezone"], row["attempts"],
                     channel_id, owner, now + lease, start_at, asterisk)

    async def next_start(self) -> float:
        async with self._db() as db:
            slot = await db.fetchval(
                "SELECT next_start FROM voxtra_campaigns WHERE campaign = $1", self.campaign)
        return 0.0 if slot is None else float(slot)

    async def set_paused(self, paused: bool) -> None:
        async with self._db() as db:
            await db.execute(
                "INSERT INTO voxtra_campaign_controls (campaign, paused) VALUES ($1, $2) "
                "ON CONFLICT (campaign) DO UPDATE SET paused = EXCLUDED.paused",
                self.campaign, paused)

    async def paused(self) -> bool:
        async with self._db() as db:
            return bool(await db.fetchval(
                "SELECT paused FROM voxtra_campaign_controls WHERE campaign = $1",
                self.campaign))

    async def dialling(self) -> int:
        async with self._db() as db:
            return int(await db.fetchval(
                "SELECT COUNT(*) FROM voxtra_contacts WHERE campaign = $1 AND status = $2",
                self.campaign, Status.DIALLING))

    async def answered(self, claim: Claim, at: float) -> None:
        async with self._db() as db, db.transaction():
            await db.execute(
                "UPDATE voxtra_attempts SET answered = $4 WHERE campaign = $1 AND number = $2 "
                "AND attempt = $3", self.campaign, claim.number, claim.attempt, at)
            await db.execute(
                "UPDATE voxtra_contacts SET outcome = 'answered' WHERE campaign = $1 "
                "AND number = $2", self.campaign, claim.number)

    async def abandoned(self, claim: Claim) -> None:
        async with self._db() as db:
            await db.execute(
                "UPDATE voxtra_attempts SET abandoned = true WHERE campaign = $1 "
                "AND number = $2 AND attempt = $3", self.campaign, claim.number, claim.attempt)

    async def abandonment(self) -> tuple[int, int]:
        async with self._db() as db:
            row = await db.fetchrow(
                "SELECT COUNT(*) FILTER (WHERE abandoned), COUNT(*) FROM voxtra_attempts "
                "WHERE campaign = $1 AND (outcome = 'answered' OR abandoned)", self.campaign)
        return int(row[0]), int(row[1])

    async def finish(self, claim: Claim, outcome: str, at: float, *,
                     retry_at: float | None, cause: int | None = None,
                     detection: dict[str, Any] | None = None, result: Any = None) -> None:
        async with self._db() as db, db.transaction():
            await db.execute(
                "UPDATE voxtra_attempts SET ended = $4, outcome = $5, cause = $6, "
                "detection = $7, result = $8 WHERE campaign = $1 AND number = $2 "
                "AND attempt = $3 AND ended IS NULL", self.campaign, claim.number,
                claim.attempt, at, outcome, cause, to_json(detection), to_json(result))
            await db.execute(
                "UPDATE voxtra_contacts SET status = $4, outcome = $5, next_at = $6, "
                "owner = NULL, lease_until = NULL, channel_id = NULL, asterisk = NULL "
                "WHERE campaign = $1 "
                "AND number = $2 AND attempts = $3 AND status = $7", self.campaign,
                claim.number, claim.attempt, Status.DONE if retry_at is None else
                Status.PENDING, outcome, at if retry_at is None else retry_at,
                Status.DIALLING)

    async def settle(self, number: str, outcome: str, at: float) -> None:
        async with self._db() as db:
            await db.execute(
                "UPDATE voxtra_contacts SET status = $3, outcome = $4, next_at = $5 "
                "WHERE campaign = $1 AND number = $2 AND status = $6", self.campaign, number,
                Status.DONE, outcome, at, Status.PENDING)

    async def held(self) -> list[Claim]:
        async with self._db() as db:
            rows = await db.fetch(
                f"SELECT {CLAIM_COLUMNS} FROM voxtra_contacts WHERE campaign = $1 "
                "AND status = $2",
                self.campaign, Status.DIALLING)
        return [claim_of(r) for r in rows]

    async def renew(self, owner: str, lease_until: float) -> None:
        async with self._db() as db:
            await db.execute(
                "UPDATE voxtra_contacts SET lease_until = $3 WHERE campaign = $1 "
                "AND owner = $2 AND status = $4", self.campaign, owner, lease_until,
                Status.DIALLING)

    async def contacts(self) -> list[ContactRecord]:
        async with self._db() as db:
            rows = await db.fetch(
                f"SELECT {CONTACT_COLUMNS} FROM voxtra_contacts WHERE campaign = $1 "
                "ORDER BY position", self.campaign)
            attempts = await db.fetch(
                f"SELECT {ATTEMPT_COLUMNS} FROM voxtra_attempts WHERE campaign = $1 "
                "ORDER BY number, attempt", self.campaign)
        records = {row[0]: contact_of(row) for row in rows}
        for row in attempts:
            records[row[0]].history.append(attempt_of(row))
        return list(records.values())

    async def counts(self) -> dict[str, int]:
        async with self._db() as db:
            rows = await db.fetch(
                "SELECT CASE WHEN status = $2 THEN outcome ELSE status END, COUNT(*) "
                "FROM voxtra_contacts WHERE campaign = $1 GROUP BY 1", self.campaign,
                Status.DONE)
        return {str(name): int(count) for name, count in rows}

