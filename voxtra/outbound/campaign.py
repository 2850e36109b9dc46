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
import dataclasses
import itertools
import logging
import math
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from voxtra.app.calls import CAMPAIGN_CHANNEL_PREFIX
from voxtra.ari.errors import AriError
from voxtra.call.state import Outcome
from voxtra.errors import VoxtraError
from voxtra.outbound.contacts import Contact, contacts_of, zone
from voxtra.outbound.detection import Answerer, Detection, asterisk_amd, detect_answerer
from voxtra.outbound.errors import CampaignError
from voxtra.outbound.leftover import dead_here, left_answered
from voxtra.outbound.results import write_results
from voxtra.outbound.rules import (
    DO_NOT_CALL,
    INTERRUPTED,
    MACHINE,
    DoNotCall,
    do_not_call_check,
)
from voxtra.outbound.settings import CampaignSettings
from voxtra.outbound.sqlite import SqliteStore
from voxtra.outbound.store import CATCH_UP, CampaignStore, Claim, ContactRecord, Limits
from voxtra.retry import Backoff
from voxtra.tasks import TaskSet
from voxtra.voice.providers import default_vad
from voxtra.voice.vad import VAD

if TYPE_CHECKING:
    from voxtra.app.application import VoxtraApp
    from voxtra.call.session import CallSession

log = logging.getLogger(__name__)

CampaignHandler = Callable[["CallSession"], Awaitable[Any]]
#: Due contacts looked at per pass (those whose window is shut are moved on).
BATCH = 20
#: Seconds before a contact whose do-not-call check failed is checked again.
DNC_RETRY = 60
#: Delays between tries of a dial's final write to a store that fails.
FINAL_WRITE_BACKOFF = Backoff(base=0.5, cap=10.0)


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
        self._blocked = do_not_call_check(do_not_call)
        self._limits = Limits(self.settings.max_concurrent, self.settings.calls_per_second)
        self._tasks = TaskSet()
        self._guards = TaskSet()
        self._running = asyncio.Event()
        self._running.set()
        self._cancelled = False
        self._changed = asyncio.Event()
        self._results: dict[str, Any] = {}
        self._detections: dict[str, Detection] = {}
        #: The claims of this worker's dials, by channel id; the calls marked connected.
        self._claims: dict[str, Claim] = {}
        self._connected: set[str] = set()
        #: Machine detection's VAD: the app's, else the best one installed.
        self._vad: VAD | None = (app.voice.providers.vad or default_vad()) \
            if self.settings.machine_detection == "audio" else None
        self._store_lock = asyncio.Lock()
        self._store_users = 0
        #: When this worker sent its latest dials, and when its next is due
        #: (:meth:`_wait_to_send`).
        self._sends: deque[float] = deque()
        self._due = float("-inf")
        #: Dials this worker has sent.
        self.dials_sent = 0
        #: The Asterisk this worker dials through, once it runs: its entity id and ARI
        #: address (:meth:`_which_asterisk`), recorded with each dial.
        self.asterisk = ""
        self._sending = asyncio.Lock()

    # Controls ------------------------------------------------------------------

    def pause(self) -> None:
        """Start no new dial until :meth:`resume` (dials under way go on)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def pause_all(self) -> None:
        """Start no new dial in any worker of the campaign (the store holds the flag;
        each worker sees it within half a second) until :meth:`resume_all`."""
        async with self._opened():
            await self.store.set_paused(True)

    async def resume_all(self) -> None:
        async with self._opened():
            await self.store.set_paused(False)
        self._changed.set()

    def cancel(self) -> None:
        """Start no new dial; :meth:`run` returns once the dials under way end."""
        self._cancelled = True
        self._running.set()
        self._changed.set()

    def connected(self, call: CallSession) -> None:
        """The answered ``call`` is now talking to someone (an agent picked up, or the
        app speaks): it is not abandoned (``abandon_after``)."""
        self._connected.add(call.id)

    async def abandonment(self) -> tuple[int, int, float]:
        """Calls abandoned, calls answered by people, and their ratio, campaign-wide."""
        async with self._opened():
            abandoned, answered = await self.store.abandonment()
        return abandoned, answered, abandoned / answered if answered else 0.0

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
        self.asterisk = await self._which_asterisk()
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
                await self._guards.close()

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
            if await self.store.paused():  # for every worker (pause_all, voxtra campaign)
                await self._idle(0.5)
                continue
            due, under_way = await self.store.next_due(), await self.store.dialling()
            if due is None and under_way == 0 and not self._tasks:
                return  # every contact is done
            await self._mind_abandonment()
            slot = await self.store.next_start() - self._clock()
            if slot > 0:  # the next start is not free yet: claim nothing ahead of it
                await self._idle(slot)
            elif under_way >= self._limits.max_concurrent or (claim := await self._next()) \
                    is None:
                await self._idle(0.5 if due is None else due - self._clock())
            else:
                self._tasks.spawn(self._attempt(claim), name=f"campaign-{claim.channel_id}")

    async def _mind_abandonment(self) -> None:
        """Space dial starts twice as far apart while the campaign's abandon rate is at
        80 % of ``max_abandon_rate`` or more."""
        settings = self.settings
        if settings.abandon_after is None:
            return
        abandoned, answered = await self.store.abandonment()
        near = answered > 0 and abandoned / answered >= 0.8 * settings.max_abandon_rate
        rate = settings.calls_per_second / (2 if near else 1)
        if rate != self._limits.calls_per_second:
            log.warning("campaign %s: %d of %d answered calls abandoned: %s dial starts per "
                        "second", self.name, abandoned, answered, rate)
            self._limits = Limits(settings.max_concurrent, rate)

    async def _idle(self, seconds: float) -> None:
        """Wait ``seconds`` at most, and 0.5 s at most (other workers' dials end too, and
        the clock may be another's), or until a dial of this worker ends or a control."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), min(0.5, max(0.01, seconds)))

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
                                           self._clock(), self.settings.lease, self._limits,
                                           self.asterisk)
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
            await self._wait_to_send(claim.start_at)
            self._claims[claim.channel_id] = claim
            self.dials_sent += 1
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
            self._claims.pop(claim.channel_id, None)
            self._connected.discard(claim.channel_id)
            await asyncio.shield(self._write_end(
                claim, outcome, cause=cause, result=result,
                detection=None if detection is None else dataclasses.asdict(detection)))
            self._changed.set()

    async def _write_end(self, claim: Claim, outcome: str, **fields: Any) -> None:
        """The dial's end, written whatever it takes. A contact left "dialling" would be
        settled as interrupted once this worker is gone, and dialled again though it may
        have been answered; so a store that fails is tried again, with backoff, until the
        write lands (the lease stays this worker's meanwhile: the heartbeat renews it)."""
        retry_at = self._retry_at(outcome, claim.attempt)
        for attempt in itertools.count():
            try:
                await self.store.finish(claim, outcome, self._clock(), retry_at=retry_at,
                                        **fields)
                return
            except Exception as exc:
                delay = FINAL_WRITE_BACKOFF.delay(attempt)
                log.warning("campaign %s: writing the end of %s's dial %d failed (%s); "
                            "again in %.1f s", self.name, claim.number, claim.attempt,
                            exc, delay)
                await asyncio.sleep(delay)

    async def _wait_to_send(self, start_at: float) -> None:
        """Until the claim's slot and this worker's next send time, which moves on by one
        interval per send, so that the loop waking a little late for one send does not
        slow the rate: up to :data:`CATCH_UP` of lateness is made up for on the next.
        Two sends are never closer than an interval less that, nor more than ``n`` in
        ``n`` intervals (``n`` the calls per second, rounded up: a carrier's limit per
        second)."""
        async with self._sending:
            interval = 1.0 / self._limits.calls_per_second
            catch_up = min(CATCH_UP, interval / 2)
            most = max(1, math.ceil(self._limits.calls_per_second))
            sends = self._sends
            while len(sends) > most:
                sends.popleft()
            due = max(start_at, self._due, self._clock() - catch_up)
            earliest = due
            if sends:
                earliest = max(earliest, sends[-1] + interval - catch_up)
            if len(sends) == most:
                earliest = max(earliest, sends[0] + most * interval)
            await asyncio.sleep(max(0.0, earliest - self._clock()))
            sends.append(self._clock())
            self._due = due + interval

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
            if self.settings.abandon_after is not None and (
                    detection is None or detection.answerer is not Answerer.MACHINE):
                self._guards.spawn(self._guard(call, self.settings.abandon_after),
                                   name=f"campaign-guard-{call.id}")
            self._results[call.id] = await self.handler(call)
        except Exception as exc:
            self._results[call.id] = {"error": repr(exc)}
            raise

    async def _guard(self, call: CallSession, after: float) -> None:
        """Abandoned if not connected ``after`` seconds from the answer (detection
        included): recorded at once (the pacing heeds it), then the identification."""
        await asyncio.sleep(after)
        claim = self._claims.get(call.id)
        if call.ended or call.id in self._connected or claim is None:
            return
        log.warning("campaign %s: call %s abandoned (no one took it in %s s)", self.name,
                    call.id, after)
        await self.store.abandoned(claim)
        if self.settings.identification:
            with contextlib.suppress(VoxtraError):
                await call.play_file(self.settings.identification)

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
                                             and not dead_here(claim.owner)):
                continue
            await self._settle_left(claim)

    async def _settle_left(self, claim: Claim) -> None:
        """A dial a dead worker left: answered (and hung up) or interrupted.

        Answered if the dead worker recorded its answer, or if its channel is up: asked
        of Asterisk when the dial went through this worker's. A dial through another
        Asterisk cannot be looked at from here: it is settled once it can no longer be
        ringing (``ring_timeout`` after the lease ran out); answered after its worker
        died, it met no Stasis application and was hung up by Asterisk at once."""
        if claim.asterisk and claim.asterisk != self.asterisk:
            if not claim.answered and \
                    self._clock() < claim.lease_until + self.settings.ring_timeout:
                return  # perhaps still ringing: the next heartbeat settles it
            answered = claim.answered
        else:
            seen_up = await left_answered(self.app.client, self.app.own_legs,
                                          claim.channel_id, self.settings.ring_timeout + 10)
            answered = claim.answered or seen_up
        outcome: str = Outcome.ANSWERED if answered else INTERRUPTED
        if answered and not claim.answered:
            await self.store.answered(claim, self._clock())
        log.info("campaign %s: %s's dial %d was left by %s: %s", self.name, claim.number,
                 claim.attempt, claim.owner, outcome)
        await self._write_end(claim, outcome)

    async def _which_asterisk(self) -> str:
        """This worker's Asterisk: its entity id (``GET /asterisk/info``, unique per
        host) and the ARI address (apart for instances sharing a host)."""
        try:
            info = await self.app.client.asterisk.info()
            entity = info.system.entity_id if info.system is not None else None
        except AriError as exc:
            log.warning("campaign %s: cannot ask Asterisk who it is (%s)", self.name, exc)
            entity = None
        return f"{entity or '?'}@{urlsplit(self.app.client.base_url).netloc}"

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
