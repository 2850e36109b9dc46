"""An outbound campaign: call a list of contacts, paced, retried, within their calling
hours, never a number on the do-not-call list, and resumable after a crash.

ARI facts relied on: a dial is ``POST /channels/{channelId}`` into the app's Stasis
application, so its channel id is chosen (and recorded) before it is placed; the channel
enters Stasis when answered; an unanswered one ends with its Q.850 cause (17 busy, 18/19
no answer, 34/42 congestion); a channel outlives the process that dialled it, so a
restarted campaign finds its dials still up with ``GET /channels/{channelId}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxtra.app.calls import CAMPAIGN_CHANNEL_PREFIX
from voxtra.ari.errors import AriError, NotFoundError
from voxtra.ari.model_base import Message
from voxtra.ari.models import ChannelStateChange, StasisStart
from voxtra.call.state import Outcome
from voxtra.errors import VoxtraError
from voxtra.outbound.contacts import Contact, contacts_of, normalise, zone
from voxtra.outbound.detection import Answerer, Detection, asterisk_amd, detect_answerer
from voxtra.outbound.errors import CampaignError
from voxtra.outbound.rules import DO_NOT_CALL, INTERRUPTED, MACHINE
from voxtra.outbound.settings import CampaignSettings
from voxtra.outbound.sqlite import SqliteStore
from voxtra.outbound.store import CampaignStore, Claim, ContactRecord, Limits
from voxtra.tasks import TaskSet
from voxtra.voice.providers import default_vad
from voxtra.voice.vad import VAD

if TYPE_CHECKING:
    from voxtra.app.application import VoxtraApp
    from voxtra.call.session import CallSession

log = logging.getLogger(__name__)

CampaignHandler = Callable[["CallSession"], Awaitable[Any]]
DoNotCall = Iterable[str] | Callable[[str], bool | Awaitable[bool]]
#: Due contacts looked at per pass (those whose window is shut are moved on).
BATCH = 20
#: Seconds before a contact whose do-not-call check failed is checked again.
DNC_RETRY = 60


class Campaign:
    """Calls ``contacts`` through ``app`` and runs ``handler`` on each answered call.

    ``handler`` gets the call with ``call.metadata`` holding the contact's variables,
    ``contact`` (the number), ``attempt`` and ``campaign``; what it returns is kept as
    the contact's result. Settings are a :class:`CampaignSettings` or its fields as
    keywords. ``store`` keeps the campaign's state: a path, a :class:`CampaignStore`,
    or by default ``NAME.campaign.db`` in the working directory. ``do_not_call`` is a
    collection of numbers or a function of a number (async or not), checked before
    every dial. ``worker`` names this process among the campaign's workers (by default
    host, process id and a random part: a dead process of this host is seen at once;
    any other's dials go back to the others when its lease runs out). ``clock`` (Unix
    seconds) places calling windows, retries and start slots.
    """

    def __init__(self, app: VoxtraApp, contacts: Iterable[Contact | str],
                 handler: CampaignHandler, *, name: str = "campaign",
                 settings: CampaignSettings | None = None,
                 store: CampaignStore | str | Path | None = None,
                 do_not_call: DoNotCall | None = None, worker: str | None = None,
                 clock: Callable[[], float] = time.time, **fields: Any) -> None:
        self.app = app
        self.name = name
        self.handler = handler
        self.settings = settings or CampaignSettings(**fields)
        self.contacts = contacts_of(contacts)
        for contact in self.contacts:
            self._endpoint(contact.number, dict(contact.variables))  # a missing variable
        self.store = store if isinstance(store, CampaignStore) else SqliteStore(
            store or Path(f"{name}.campaign.db"))
        self.owner = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._clock = clock
        self._blocked = _do_not_call(do_not_call)
        self._limits = Limits(self.settings.max_concurrent, self.settings.calls_per_second)
        self._tasks = TaskSet()
        self._running = asyncio.Event()
        self._running.set()
        self._cancelled = False
        self._changed = asyncio.Event()
        self._results: dict[str, Any] = {}
        self._detections: dict[str, Detection] = {}
        #: Machine detection's VAD: the app's, else the best one installed.
        self._vad: VAD | None = (app.voice.providers.vad or default_vad()) \
            if self.settings.machine_detection == "audio" else None
        self._store_lock = asyncio.Lock()
        self._store_users = 0

    # Controls ------------------------------------------------------------------

    def pause(self) -> None:
        """Start no new dial until :meth:`resume` (dials under way go on)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()
        self._changed.set()

    def cancel(self) -> None:
        """Start no new dial; :meth:`run` returns once the dials under way end."""
        self._cancelled = True
        self._running.set()
        self._changed.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def dialling(self) -> int:
        """Dials under way in this process."""
        return len(self._tasks)

    # Running -------------------------------------------------------------------

    async def run(self) -> dict[str, int]:
        """Dial until every contact is done, the deadline passes or :meth:`cancel`;
        returns the contacts by status and final outcome (:meth:`counts`)."""
        async with self._opened():
            heartbeat = asyncio.create_task(self._heartbeat(), name="campaign-heartbeat")
            try:
                added = await self.store.add(self.contacts, self._clock())
                log.info("campaign %s: %d contacts (%d new)", self.name, len(self.contacts),
                         added)
                await self._recover()
                await self._dial_all()
                await self._tasks.join()
                return await self.store.counts()
            finally:
                heartbeat.cancel()
                await self._tasks.close()

    async def counts(self) -> dict[str, int]:
        """Contacts by status (pending, dialling) and, once done, by final outcome."""
        async with self._opened():
            return await self.store.counts()

    async def records(self) -> list[ContactRecord]:
        """Every contact with its dials (start, answer, end, outcome, cause, result)."""
        async with self._opened():
            return await self.store.contacts()

    @contextlib.asynccontextmanager
    async def _opened(self) -> AsyncIterator[CampaignStore]:
        """The store, open while anyone (the run, a look at the counts) uses it."""
        async with self._store_lock:
            if self._store_users == 0:
                await self.store.open()
            self._store_users += 1
        try:
            yield self.store
        finally:
            async with self._store_lock:
                self._store_users -= 1
                if self._store_users == 0:
                    await self.store.close()

    async def _dial_all(self) -> None:
        deadline = self.settings.deadline
        while not self._cancelled:
            await self._running.wait()
            if self._cancelled or (deadline and self._clock() >= deadline.timestamp()):
                return
            full = await self.store.dialling() >= self._limits.max_concurrent
            claim = None if full else await self._next()
            if claim is None:
                if not self._tasks and await self.store.next_due() is None \
                        and await self.store.dialling() == 0:
                    return  # every contact is done
                await self._idle()
                continue
            self._tasks.spawn(self._attempt(claim), name=f"campaign-{claim.channel_id}")

    async def _idle(self) -> None:
        """Wait for a dial of this worker to end, a control, or the next due contact (at
        most 0.5 s: other workers' dials end too, and the clock may be another's)."""
        due = await self.store.next_due()
        wait = 0.5 if due is None else min(0.5, max(0.0, due - self._clock()))
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), wait or 0.01)

    async def _next(self) -> Claim | None:
        """The next contact to dial, claimed: due, not on the do-not-call list, inside
        its calling window (contacts whose window is shut move to its opening)."""
        now = self._clock()
        for record in await self.store.due(now, BATCH):
            try:
                blocked = await self._blocked(record.number)
            except Exception as exc:  # a list that cannot be read: never dial blind
                log.warning("campaign %s: do-not-call check for %s failed (%r): trying "
                            "again in %d s", self.name, record.number, exc, DNC_RETRY)
                await self.store.defer(record.number, now + DNC_RETRY)
                continue
            if blocked:
                log.info("campaign %s: %s is on the do-not-call list", self.name,
                         record.number)
                await self.store.settle(record.number, DO_NOT_CALL, now)
                continue
            opens = self._opening(record, now)
            if opens > now:
                await self.store.defer(record.number, opens)
                continue
            channel_id = f"{CAMPAIGN_CHANNEL_PREFIX}{uuid.uuid4().hex}"
            claim = await self.store.claim(record.number, channel_id, self.owner,
                                           self._clock(), self.settings.lease, self._limits)
            if claim is not None:
                return claim
        return None

    def _opening(self, record: ContactRecord, now: float) -> float:
        place = zone(record.timezone or self.settings.timezone)
        return self.settings.window.opening(datetime.fromtimestamp(now, UTC), place).timestamp()

    async def _attempt(self, claim: Claim) -> None:
        """One dial, recorded when it is answered and when it ends."""
        outcome: str = INTERRUPTED
        cause: int | None = None
        result: Any = None
        detection: Detection | None = None
        try:
            metadata = {**claim.variables, "contact": claim.number, "attempt": claim.attempt,
                        "campaign": self.name}
            await asyncio.sleep(max(0.0, claim.start_at - self._clock()))
            call = await self.app.originate(
                self._endpoint(claim.number, claim.variables), handler=self._handle,
                caller_id=self.settings.caller_id, timeout=self.settings.ring_timeout,
                metadata=metadata, channel_id=claim.channel_id)
            outcome = await call.outcome
            if outcome is Outcome.ANSWERED:
                await self.store.answered(claim, self._clock())
            await call.wait_ended()
            cause = call.hangup_cause
            result = self._results.pop(call.id, None)
            detection = self._detections.pop(call.id, None)
            if detection is not None and detection.answerer is Answerer.MACHINE:
                outcome = MACHINE
        except AriError as exc:  # ARI out of reach: the dial may not have been placed
            log.warning("campaign %s: dialling %s: %s", self.name, claim.number, exc)
        finally:
            retry_at = self._retry_at(outcome, claim.attempt)
            await asyncio.shield(self.store.finish(
                claim, outcome, self._clock(), retry_at=retry_at, cause=cause, result=result,
                detection=None if detection is None else dataclasses.asdict(detection)))
            self._changed.set()

    def _retry_at(self, outcome: str, dialled: int) -> float | None:
        if outcome == Outcome.ANSWERED:
            return None
        wait = self.settings.retry.wait(outcome, dialled)
        return None if wait is None else self._clock() + wait

    async def _handle(self, call: CallSession) -> None:
        try:
            detection: Detection | None = None
            if self.settings.machine_detection == "asterisk":
                detection = await asterisk_amd(call, self.settings.detection)
            elif self._vad is not None:
                async with contextlib.aclosing(call.audio_stream()) as audio:
                    detection = await detect_answerer(audio, self._vad,
                                                      self.settings.detection)
            if detection is not None:
                self._detections[call.id] = detection
                call.metadata["answerer"] = detection.answerer
                call.metadata["detection"] = detection
            self._results[call.id] = await self.handler(call)
        except Exception as exc:
            self._results[call.id] = {"error": repr(exc)}
            raise

    def _endpoint(self, number: str, variables: dict[str, str]) -> str:
        try:
            return self.settings.dial.format(**{**variables, "number": number})
        except KeyError as exc:
            raise CampaignError(f"dial string {self.settings.dial!r} for contact {number}: "
                                f"{exc.args[0]!r} is not a contact variable") from None
        except (IndexError, ValueError) as exc:
            raise CampaignError(f"dial string {self.settings.dial!r}: {exc} (give names in "
                                "braces: {number}, {trunk})") from None

    # A dead worker's dials -----------------------------------------------------

    async def _recover(self) -> None:
        """Settle the dials a dead worker left (a lease run out, or a process of this
        host that is gone): answered if the channel is still up, else interrupted."""
        now = self._clock()
        for claim in await self.store.held():
            if claim.owner == self.owner or (claim.lease_until > now
                                             and not _dead_here(claim.owner)):
                continue
            await self._settle_left(claim)

    async def _settle_left(self, claim: Claim) -> None:
        """A dial a dead worker left: answered if its channel is up or comes up (then
        hung up: its handler is gone), else interrupted once the channel is gone. Its
        events reach this worker only if both share the Stasis application: the channel
        is looked at every 0.2 s as well."""
        client, legs = self.app.client, self.app.own_legs
        answered = asyncio.Event()

        def observe(event: Message) -> None:
            if isinstance(event, StasisStart) or (
                    isinstance(event, ChannelStateChange) and event.channel.state == "Up"):
                answered.set()

        legs.add(claim.channel_id, observe)  # before looking: no change is missed
        gone = False
        try:
            give_up = time.monotonic() + self.settings.ring_timeout + 10
            while not answered.is_set():
                try:
                    channel = await client.channels.get(claim.channel_id)
                except NotFoundError:
                    gone = True
                    break
                if channel.state == "Up" or time.monotonic() > give_up:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), 0.2)
            outcome: str = INTERRUPTED
            if answered.is_set() or (not gone and channel.state == "Up"):
                outcome = Outcome.ANSWERED
                await self.store.answered(claim, self._clock())
            if not gone:
                with contextlib.suppress(AriError):
                    await client.channels.hangup(claim.channel_id)
        finally:
            legs.discard(claim.channel_id)
        log.info("campaign %s: %s's dial %d was left by %s: %s", self.name, claim.number,
                 claim.attempt, claim.owner, outcome)
        await self.store.finish(claim, outcome, self._clock(),
                                retry_at=self._retry_at(outcome, claim.attempt))

    async def _heartbeat(self) -> None:
        """Renew this worker's leases, and take over the dials of workers that died."""
        while True:
            await asyncio.sleep(self.settings.lease / 3)
            try:
                await self.store.renew(self.owner, self._clock() + self.settings.lease)
                await self._recover()
            except (VoxtraError, OSError) as exc:  # a store or ARI hiccup: next time
                log.warning("campaign %s: heartbeat: %s", self.name, exc)

    # Results -------------------------------------------------------------------

    async def export(self, path: str | Path) -> Path:
        """Write every contact's outcome, dials and results to ``path``: JSON if it ends
        in ``.json``, else CSV (one row per contact, its dials as JSON)."""
        await asyncio.to_thread(write_results, await self.records(), Path(path))
        return Path(path)


def write_results(records: list[ContactRecord], target: Path) -> None:
    """The contacts' outcomes, dials and results as JSON (``.json``) or CSV."""
    rows = [{"number": r.number, "status": r.status, "outcome": r.outcome,
             "attempts": r.attempts, "variables": r.variables,
             "dials": [vars(a) for a in r.history]} for r in records]
    if target.suffix == ".json":
        target.write_text(json.dumps(rows, indent=1, default=str))
        return
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]) if rows else ["number"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "variables": json.dumps(row["variables"]),
                             "dials": json.dumps(row["dials"], default=str)})


def _do_not_call(source: DoNotCall | None) -> Callable[[str], Awaitable[bool]]:
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


def _dead_here(owner: str) -> bool:
    """True if ``owner`` (``host:pid:...``) was a process of this host that is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
