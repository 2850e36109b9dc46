"""The default campaign store: one SQLite file beside the campaign.

Embedded, nothing to run; its single writer serialises claims, and WAL journalling
keeps every committed write through a killed process (https://sqlite.org/wal.html).
Its calls run on one thread of their own, off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    number TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    variables TEXT NOT NULL,
    timezone TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    next_at REAL NOT NULL,
    owner TEXT,
    lease_until REAL,
    channel_id TEXT,
    asterisk TEXT
);
CREATE INDEX IF NOT EXISTS contacts_due ON contacts (status, next_at, position);
CREATE TABLE IF NOT EXISTS pace (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    next_start REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS controls (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    paused INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS attempts (
    number TEXT NOT NULL REFERENCES contacts (number),
    attempt INTEGER NOT NULL,
    channel_id TEXT NOT NULL,
    started REAL NOT NULL,
    answered REAL,
    ended REAL,
    outcome TEXT,
    cause INTEGER,
    detection TEXT,
    result TEXT,
    abandoned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (number, attempt)
);
"""



class SqliteStore(CampaignStore):
    """A campaign's state in the SQLite file ``path`` (made when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._db is None:
                raise CampaignError(f"campaign store {self.path} is not open")
            try:
                with self._db:  # one transaction, committed or rolled back
                    return work(self._db)
            except sqlite3.Error as exc:  # a full disk, a file locked too long
                raise CampaignError(f"campaign store {self.path}: {exc}") from exc
        if self._thread is None:
            raise CampaignError(f"campaign store {self.path} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def open(self) -> None:
        def connect() -> None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA busy_timeout=10000")
                db.executescript(_SCHEMA)
                columns = {row[1] for row in db.execute("PRAGMA table_info(contacts)")}
                if "asterisk" not in columns:  # a store made before dials named it
                    db.execute("ALTER TABLE contacts ADD COLUMN asterisk TEXT")
            except (OSError, sqlite3.Error) as exc:
                raise CampaignError(f"cannot open campaign store {self.path}: {exc}") from exc
            db.isolation_level = "IMMEDIATE"  # a transaction takes the write lock first
            self._db = db
        if self._thread is not None:
            return
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="voxtra-campaign-store")
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, connect)
        except BaseException:
            self._thread.shutdown(wait=False)
            self._thread = None
            raise

    async def close(self) -> None:
        def disconnect() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        if self._thread is None:
            return
        await asyncio.get_running_loop().run_in_executor(self._thread, disconnect)
        self._thread.shutdown(wait=True)
        self._thread = None

    async def add(self, contacts: Sequence[Contact], now: float) -> int:
        def work(db: sqlite3.Connection) -> int:
            start = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM contacts"
                               ).fetchone()[0]
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO contacts (number, position, variables, timezone, "
                "status, next_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(c.number, start + i, json.dumps(dict(c.variables)), c.timezone,
                  Status.PENDING, now) for i, c in enumerate(contacts)])
            return db.total_changes - before
        return await self._run(work)

    async def due(self, now: float, limit: int) -> list[ContactRecord]:
        def work(db: sqlite3.Connection) -> list[ContactRecord]:
            rows = db.execute(
                f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE status = ? AND next_at <= ? "
                "ORDER BY next_at, position LIMIT ?", (Status.PENDING, now, limit))
            return [contact_of(row) for row in rows]
        return await self._run(work)

    async def next_due(self) -> float | None:
        def work(db: sqlite3.Connection) -> float | None:
            row = db.execute("SELECT MIN(next_at) FROM contacts WHERE status = ?",
                             (Status.PENDING,)).fetchone()
            return None if row[0] is None else float(row[0])
        return await self._run(work)

    async def defer(self, number: str, until: float) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE contacts SET next_at = ? WHERE number = ? AND status = ?",
            (until, number, Status.PENDING)))

    async def claim(self, number: str, channel_id: str, owner: str, now: float,
                    lease: float, limits: Limits, asterisk: str = "") -> Claim | None:
        def work(db: sqlite3.Connection) -> Claim | None:
            under_way = db.execute("SELECT COUNT(*) FROM contacts WHERE status = ?",
                                   (Status.DIALLING,)).fetchone()[0]
            if under_way >= limits.max_concurrent:
                return None
            row = db.execute(
                "UPDATE contacts SET status = ?, attempts = attempts + 1, owner = ?, "
                "lease_until = ?, channel_id = ?, asterisk = ? "
                "WHERE number = ? AND status = ? AND next_at <= ? "
                "RETURNING variables, timezone, attempts",
                (Status.DIALLING, owner, now + lease, channel_id, asterisk, number,
                 Status.PENDING, now)).fetchone()
            if row is None:
                return None
            slot = db.execute("SELECT next_start FROM pace").fetchone()
            start_at, following = start_slot(now, slot[0] if slot else None, limits)
            db.execute("INSERT OR REPLACE INTO pace (id, next_start) VALUES (0, ?)",
                       (following,))
            db.execute("INSERT INTO attempts (number, attempt, channel_id, started) "
                       "VALUES (?, ?, ?, ?)", (number, row[2], channel_id, start_at))
            return Claim(number, json.loads(row[0]), row[1], row[2], channel_id, owner,
                         now + lease, start_at, asterisk)
        return await self._run(work)

    async def next_start(self) -> float:
        def work(db: sqlite3.Connection) -> float:
            row = db.execute("SELECT next_start FROM pace").fetchone()
            return float(row[0]) if row else 0.0
        return await self._run(work)

    async def dialling(self) -> int:
        return await self._run(lambda db: int(db.execute(
            "SELECT COUNT(*) FROM contacts WHERE status = ?", (Status.DIALLING,)
        ).fetchone()[0]))

    async def answered(self, claim: Claim, at: float) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE attempts SET answered = ? WHERE number = ? AND attempt = ?",
                       (at, claim.number, claim.attempt))
            db.execute("UPDATE contacts SET outcome = 'answered' WHERE number = ?",
                       (claim.number,))
        await self._run(work)

    async def abandoned(self, claim: Claim) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE attempts SET abandoned = 1 WHERE number = ? AND attempt = ?",
            (claim.number, claim.attempt)))

    async def abandonment(self) -> tuple[int, int]:
        def work(db: sqlite3.Connection) -> tuple[int, int]:
            row = db.execute("SELECT COALESCE(SUM(abandoned), 0), COUNT(*) FROM attempts "
                             "WHERE outcome = 'answered' OR abandoned = 1").fetchone()
            return int(row[0]), int(row[1])
        return await self._run(work)

    async def finish(self, claim: Claim, outcome: str, at: float, *,
                     retry_at: float | None, cause: int | None = None,
                     detection: dict[str, Any] | None = None, result: Any = None) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE attempts SET ended = ?, outcome = ?, cause = ?, detection = ?, "
                "result = ? WHERE number = ? AND attempt = ? AND ended IS NULL",
                (at, outcome, cause, to_json(detection), to_json(result), claim.number,
                 claim.attempt))
            db.execute(
                "UPDATE contacts SET status = ?, outcome = ?, next_at = ?, owner = NULL, "
                "lease_until = NULL, channel_id = NULL, asterisk = NULL "
                "WHERE number = ? AND status = ? AND attempts = ?",
                (Status.DONE if retry_at is None else Status.PENDING, outcome,
                 at if retry_at is None else retry_at, claim.number, Status.DIALLING,
                 claim.attempt))
        await self._run(work)

    async def settle(self, number: str, outcome: str, at: float) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE contacts SET status = ?, outcome = ?, next_at = ? "
            "WHERE number = ? AND status = ?", (Status.DONE, outcome, at, number,
                                                Status.PENDING)))

    async def held(self) -> list[Claim]:
        def work(db: sqlite3.Connection) -> list[Claim]:
            rows = db.execute(
                f"SELECT {CLAIM_COLUMNS} FROM contacts WHERE status = ?", (Status.DIALLING,))
            return [claim_of(r) for r in rows]
        return await self._run(work)

    async def renew(self, owner: str, lease_until: float) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE contacts SET lease_until = ? WHERE owner = ? AND status = ?",
            (lease_until, owner, Status.DIALLING)))

    async def contacts(self) -> list[ContactRecord]:
        def work(db: sqlite3.Connection) -> list[ContactRecord]:
            records = {row[0]: contact_of(row) for row in db.execute(
                f"SELECT {CONTACT_COLUMNS} FROM contacts ORDER BY position")}
            for row in db.execute(
                    f"SELECT {ATTEMPT_COLUMNS} FROM attempts ORDER BY number, attempt"):
                records[row[0]].history.append(attempt_of(row))
            return list(records.values())
        return await self._run(work)

    async def set_paused(self, paused: bool) -> None:
        await self._run(lambda db: db.execute(
            "INSERT OR REPLACE INTO controls (id, paused) VALUES (0, ?)", (int(paused),)))

    async def paused(self) -> bool:
        return await self._run(lambda db: bool(
            (db.execute("SELECT paused FROM controls").fetchone() or (0,))[0]))

    async def counts(self) -> dict[str, int]:
        def work(db: sqlite3.Connection) -> dict[str, int]:
            rows = db.execute(
                "SELECT CASE WHEN status = ? THEN outcome ELSE status END, COUNT(*) "
                "FROM contacts GROUP BY 1", (Status.DONE,))
            return {str(name): count for name, count in rows}
        return await self._run(work)

