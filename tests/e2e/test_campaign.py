"""Outbound campaigns through the sandbox Asterisk, with SIPp callees that answer, are
busy, are congested or never answer.

What is checked from Asterisk's side (``AsteriskWatch``: every channel's events on a
websocket of its own) as well as from the campaign's store: how many dials there were,
how many were up at once, and how far apart they started (Asterisk's own timestamps).
Protocol facts relied on: a SIP 486 ends a dial with Q.850 cause 17, a 503 with 34, a
dial Asterisk gives up on after its timeout with 19 (no answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time
from pathlib import Path
from time import monotonic
from typing import Any

import numpy as np
import pytest

from voxtra import CallSession, VoxtraApp
from voxtra.app.calls import CAMPAIGN_CHANNEL_PREFIX
from voxtra.ari.client import AriClient
from voxtra.ari.errors import NotFoundError
from voxtra.outbound import (
    CallingWindow,
    Campaign,
    Contact,
    Retry,
    RetryPolicy,
    SqliteStore,
)
from voxtra.outbound.detection import wait_for_beep
from voxtra.outbound.postgres import PostgresStore
from voxtra.outbound.store import Claim, ContactRecord
from voxtra.sandbox.asterisk import SandboxState
from voxtra.sandbox.audio import tone, write_ulaw_wav
from voxtra.sandbox.scenarios import CalleeScript
from voxtra.sandbox.sipp import SipCallee
from voxtra.sandbox.telephone import caller_audio
from voxtra.sandbox.voices import VOICES
from voxtra.settings import VoxtraSettings
from voxtra.testing.watch import AsteriskWatch

pytestmark = pytest.mark.asterisk

DIAL = "PJSIP/loopback/sip:{number}@127.0.0.1:{port}"
ALL_DAY = CallingWindow(start=time(0), end=time(23, 59, 59, 999999))


async def callee(behaviour: str, calls: int) -> SipCallee:
    sip = SipCallee(CalleeScript(behaviour, ring_for=0.2, wait_for_bye=30), calls=calls)
    await sip.start(timeout=120)
    return sip


@pytest.fixture
async def watch(voxtra_settings: VoxtraSettings) -> AsyncIterator[AsteriskWatch]:
    async with AsteriskWatch(voxtra_settings, "voxtra-campaign-") as seen:
        yield seen


async def greet(call: CallSession) -> str:
    await asyncio.sleep(0.3)
    await call.hangup()
    return f"greeted {call.metadata['name']}"


async def test_outcomes_retries_and_pacing_as_configured(
        voxtra_settings: VoxtraSettings, watch: AsteriskWatch, tmp_path: Path) -> None:
    answering, busy = await callee("answer", 4), await callee("busy", 2)
    congested, silent = await callee("congested", 3), await callee("no-answer", 2)
    contacts = [Contact(f"20{i}", {"port": str(answering.port), "name": f"caller {i}"})
                for i in range(4)]
    contacts += [Contact("300", {"port": str(busy.port), "name": "busy"}),
                 Contact("400", {"port": str(congested.port), "name": "congested"}),
                 Contact("500", {"port": str(silent.port), "name": "silent"}),
                 Contact("+1 555 0199", {"port": "9", "name": "listed"})]
    app = VoxtraApp(voxtra_settings)
    campaign = Campaign(
        app, contacts, greet, dial=DIAL, caller_id="Voxtra <5550100>", window=ALL_DAY,
        max_concurrent=2, calls_per_second=4, ring_timeout=1,
        retry=RetryPolicy(busy=Retry(attempts=2, delay=0.3),
                          no_answer=Retry(attempts=2, delay=0.3),
                          congestion=Retry(attempts=3, delay=0.2, backoff=1)),
        do_not_call=["+15550199"], store=tmp_path / "campaign.db")
    sent: list[float] = []
    originate = app.originate

    async def timed(*args: Any, **kwargs: Any) -> CallSession:
        sent.append(monotonic())
        return await originate(*args, **kwargs)

    app.originate = timed  # type: ignore[method-assign]
    async with app:
        counts = await asyncio.wait_for(campaign.run(), 60)
    for sip in (answering, busy, congested, silent):
        assert (await sip.result()).succeeded
    assert counts == {"answered": 4, "busy": 1, "congestion": 1, "no_answer": 1,
                      "do_not_call": 1}
    records = {r.number: r for r in await campaign.records()}
    assert {n: r.attempts for n, r in records.items()} == {
        "200": 1, "201": 1, "202": 1, "203": 1, "300": 2, "400": 3, "500": 2, "+15550199": 0}
    assert [a.cause for a in records["300"].history] == [17, 17]
    assert [a.cause for a in records["400"].history] == [34, 34, 34]
    assert records["201"].history[0].result == "greeted caller 1"
    # However late the loop wakes, the worker sends at most four dials in any second and
    # none closer than an interval less 20 ms (0.23 s) to the one before. Asterisk's side:
    # every dial the store holds, and no other; two at most at once; its creation times
    # (to the millisecond) add each request's own time, which on a loaded machine varies
    # by tens of milliseconds; four a second over the run.
    assert len(sent) == 11
    assert min(b - a for a, b in itertools.pairwise(sent)) >= 0.23
    assert min(b - a for a, b in zip(sent, sent[4:], strict=False)) >= 1.0
    dialled = {a.channel_id for r in records.values() for a in r.history}
    assert set(watch.created) == dialled and len(dialled) == 11
    assert watch.most_at_once() <= 2
    gaps = watch.start_gaps()
    assert min(gaps) >= 0.23 - 0.06 and watch.most_starts_within(1.0 - 0.06) <= 4
    assert len(gaps) / sum(gaps) <= 4
    assert len(watch.answered) == 4
    exported = json.loads((await campaign.export(tmp_path / "out.json")).read_text())
    assert [row["outcome"] for row in exported][-1] == "do_not_call"
    csv_rows = (await campaign.export(tmp_path / "out.csv")).read_text().splitlines()
    assert len(csv_rows) == 9 and csv_rows[0].startswith("number,status,outcome")


async def voxtra_cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxtra", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_voxtra_campaign_pauses_every_worker_reports_and_exports(
        voxtra_settings: VoxtraSettings, watch: AsteriskWatch, tmp_path: Path) -> None:
    """``voxtra campaign pause`` on the store while a campaign runs: no new dial starts
    (at four a second, eight would have in two seconds) until ``resume``; ``status``
    and ``export`` read the same store."""
    answering = await callee("answer", 5)
    store = tmp_path / "campaign.db"
    app = VoxtraApp(voxtra_settings)
    campaign = Campaign(
        app, [Contact(f"60{i}", {"port": str(answering.port), "name": f"n{i}"})
              for i in range(5)], greet, dial=DIAL, window=ALL_DAY, max_concurrent=1,
        calls_per_second=4, store=store)
    async with app:
        running = asyncio.create_task(campaign.run())
        async with asyncio.timeout(20):
            while not watch.created:
                await asyncio.sleep(0.05)
        code, out = await voxtra_cli("campaign", "pause", str(store))
        assert code == 0 and "paused" in out, out
        await asyncio.sleep(0.6)  # one pass of the worker (0.5 s at most): it saw the flag
        async with asyncio.timeout(20):  # a dial it started before then ends
            while await campaign.store.dialling():
                await asyncio.sleep(0.05)
        held = len(watch.created)
        await asyncio.sleep(2.0)  # the window in which nothing may start (not a wait)
        assert len(watch.created) == held < 5
        code, out = await voxtra_cli("campaign", "status", str(store))
        assert code == 0 and re.search(r"paused +yes", out) and re.search(r"pending +\d", out)
        code, out = await voxtra_cli("campaign", "resume", str(store))
        assert code == 0, out
        counts = await asyncio.wait_for(running, 60)
    assert counts == {"answered": 5} and len(watch.created) == 5
    assert (await answering.result()).succeeded
    code, out = await voxtra_cli("campaign", "export", str(store), str(tmp_path / "r.csv"))
    assert code == 0 and "5 contacts written" in out, out
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 6
    code, out = await voxtra_cli("campaign", "status", str(tmp_path / "nowhere.db"))
    assert code == 1 and "no campaign store there" in out, out


async def test_calling_windows_hold_in_each_contacts_time_zone(
        voxtra_settings: VoxtraSettings, watch: AsteriskWatch, tmp_path: Path) -> None:
    """At 15:59:50 UTC in January it is 10:59 in New York and 7:59 in Los Angeles: the
    Los Angeles contact waits for 8:00 there (16:00 UTC) on the injected clock."""
    answering = await callee("answer", 2)
    port = str(answering.port)
    now = [datetime(2026, 1, 13, 15, 59, 50, tzinfo=UTC).timestamp()]
    opens = datetime(2026, 1, 13, 16, 0, tzinfo=UTC).timestamp()
    app = VoxtraApp(voxtra_settings)
    campaign = Campaign(
        app, [Contact("601", {"port": port, "name": "la"}, "America/Los_Angeles"),
              Contact("602", {"port": port, "name": "ny"}, "America/New_York")],
        greet, dial=DIAL, store=tmp_path / "c.db", clock=lambda: now[0])
    async with app:
        running = asyncio.create_task(campaign.run())
        async with asyncio.timeout(10):  # New York answered, Los Angeles put off
            while (await campaign.counts()).get("answered") != 1 or \
                    {r.number: r.next_at for r in await campaign.records()}["601"] != opens:
                await asyncio.sleep(0.1)
        assert len(watch.created) == 1  # New York only
        now[0] = opens
        advanced = datetime.now(UTC).timestamp()
        counts = await asyncio.wait_for(running, 15)
    assert counts == {"answered": 2}
    records = {r.number: r for r in await campaign.records()}
    assert records["601"].history[0].started >= opens
    assert records["602"].history[0].started < opens
    la_channel = records["601"].history[0].channel_id
    assert watch.created[la_channel] >= advanced - 0.01
    assert (await answering.result()).succeeded



WORKER = Path(__file__).with_name("campaign_worker.py")


def write_plan(path: Path, **plan: Any) -> Path:
    path.write_text(json.dumps(plan))
    return path


def worker_env(settings: VoxtraSettings, app_name: str | None = None) -> dict[str, str]:
    return {**os.environ, "VOXTRA_ARI_URL": settings.ari_url,
            "VOXTRA_ARI_USER": settings.ari_user,
            "VOXTRA_ARI_PASSWORD": settings.ari_password.get_secret_value(),
            "VOXTRA_APP_NAME": app_name or settings.app_name}


Workers = dict[str, asyncio.subprocess.Process]


async def start_workers(tmp_path: Path, setups: dict[str, tuple[str, dict[str, str]]],
                        **plan: Any) -> Workers:
    """A worker process per name of ``setups`` (its dial string and environment), each
    running ``plan`` as ``worker-NAME``."""
    workers = {}
    for name, (dial, env) in setups.items():
        path = write_plan(tmp_path / f"{name}.json", dial=dial, worker=f"worker-{name}",
                          **plan)
        workers[name] = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), str(path), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return workers


async def kill_a_then_finish_with_b(
        dsn: str, campaign: str, workers: Workers,
        ready: Callable[[list[Claim], dict[str, int]], bool]
        ) -> tuple[list[Claim], Any, dict[str, ContactRecord]]:
    """Kill worker a once ``ready(held dials, counts)``: the dials it held then, worker
    b's counts once it has finished the campaign alone, and every contact's record.
    No worker is left running."""
    store = PostgresStore(dsn, campaign)
    await store.open()
    try:
        async with asyncio.timeout(60):
            while not ready(await store.held(), await store.counts()):
                await asyncio.sleep(0.05)
        workers["a"].kill()
        await workers["a"].communicate()
        left = [c for c in await store.held() if c.owner == "worker-a"]
        out, err = await asyncio.wait_for(workers["b"].communicate(), 90)
        assert workers["b"].returncode == 0, err.decode()[-2000:]
        records = {r.number: r for r in await store.contacts()}
        return left, json.loads(out.decode().splitlines()[-1]), records
    finally:
        await store.close()
        for process in workers.values():
            if process.returncode is None:
                process.kill()


@pytest.mark.slow
async def test_a_campaign_killed_at_random_moments_loses_nothing_and_redials_no_one(
        voxtra_settings: VoxtraSettings, watch: AsteriskWatch, tmp_path: Path) -> None:
    """SIGKILL ten times at random moments, restarted each time, then run to the end:
    every contact has one final outcome, no contact is dialled after its answered
    dial, every dial Asterisk saw is recorded, and each contact was answered by a
    worker once."""
    answering, busy, silent = (await callee("answer", 200), await callee("busy", 50),
                               await callee("no-answer", 50))
    contacts = [{"number": f"70{i}", "port": str(answering.port)} for i in range(8)]
    contacts += [{"number": f"71{i}", "port": str(busy.port)} for i in range(2)]
    contacts += [{"number": f"72{i}", "port": str(silent.port)} for i in range(2)]
    plan = write_plan(tmp_path / "plan.json", contacts=contacts, dial=DIAL,
                      store=str(tmp_path / "campaign.db"))
    env = worker_env(voxtra_settings)
    worker = [sys.executable, str(WORKER), str(plan)]
    seed = random.randrange(1 << 30)
    moments = random.Random(seed).sample(range(800, 3500, 50), 10)
    for moment in moments:
        process = await asyncio.create_subprocess_exec(
            *worker, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await asyncio.sleep(moment / 1000)
        if process.returncode is None:
            process.kill()
        await process.communicate()
    process = await asyncio.create_subprocess_exec(
        *worker, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode()[-2000:]
    counts = json.loads(out.decode().strip().splitlines()[-1])
    assert counts == {"answered": 8, "busy": 2, "no_answer": 2}, f"seed {seed}"
    store = SqliteStore(tmp_path / "campaign.db")
    await store.open()
    records = await store.contacts()
    await store.close()
    owner_of = {a.channel_id: r.number for r in records for a in r.history}
    for record in records:
        outcomes = [a.outcome for a in record.history]
        assert record.status == "done" and None not in outcomes, (seed, record)
        if record.outcome == "answered":
            assert outcomes.index("answered") == len(outcomes) - 1, (seed, record)
    async with asyncio.timeout(10):
        while set(watch.destroyed) != set(watch.created):
            await asyncio.sleep(0.1)
    assert set(watch.created) <= set(owner_of), f"a dial not recorded (seed {seed})"
    # From Asterisk's side, one answer per contact reached a worker. A dial answered
    # while no worker was connected to ARI is hung up by Asterisk at once (Stasis has no
    # application to take it): the restarted campaign cannot tell it from a dial never
    # answered, and dials again; such answers end within 50 ms.
    held = Counter(owner_of[c] for c, up in watch.answered.items()
                   if watch.destroyed[c] - up > 0.05)
    assert held == Counter(f"70{i}" for i in range(8)), (seed, held)
    for sip in (answering, busy, silent):
        await sip.stop()


GREETING = ("Hi, you have reached Sam and Alex. We can't take your call right now. "
            "Please leave your name and number after the tone and we will call you back.")


@pytest.mark.parametrize("way", ["audio", "asterisk"])
async def test_answering_machines_are_told_from_people_both_ways(
        way: str, voxtra_settings: VoxtraSettings, tmp_path: Path) -> None:
    """Callees that say "Hello?", "Hello? ... Hello?", or play a six-second voicemail
    greeting ending in a beep (telephone-band speech at a normal level over noise), told
    apart on the call's audio and by Asterisk's AMD(): the handler learns who answered
    and leaves its message after the beep. AMD() takes the average sample level under
    256 (about -42 dBFS) for silence: its lines' noise is 35 dB under the speech (-56
    dBFS), the audio detector's 20 dB."""
    joe = next(v for v in VOICES if v.name == "joe")
    woman = next(v for v in VOICES if v.name == "joe-woman")
    snr = 20 if way == "audio" else 35
    once, _ = caller_audio(["Hello?"], joe, lead=0.6, after=4, noise="pink", snr=snr)
    twice, _ = caller_audio(["Hello?", 1.2, "Hello?"], woman, lead=0.6, after=4,
                            noise="pink", snr=snr)
    greeting, _ = caller_audio([GREETING], woman, lead=0.4, noise="pink", snr=snr + 5)
    machine = np.concatenate([greeting, tone(1000, 0.6), np.zeros(8000 * 4, np.int16)])
    callees = []
    for name, pcm in (("once", once), ("twice", twice), ("machine", machine)):
        sip = SipCallee(CalleeScript("answer", audio=write_ulaw_wav(tmp_path / f"{name}.wav",
                                                                    pcm), wait_for_bye=30))
        await sip.start(timeout=60)
        callees.append(sip)
    heard: dict[str, Any] = {}

    async def leave_message(call: CallSession) -> str:
        heard[call.metadata["contact"]] = call.metadata["detection"]
        if call.metadata["answerer"] == "machine":
            async with contextlib.aclosing(call.audio_stream()) as audio:
                beeped = call.metadata["detection"].cause == "beep" or \
                    await wait_for_beep(audio, timeout=10)
            await call.hangup()
            return "message left" if beeped else "no beep"
        await call.hangup()
        return "spoke"

    app = VoxtraApp(voxtra_settings)
    campaign = Campaign(
        app, [Contact(str(800 + i), {"port": str(c.port)}) for i, c in enumerate(callees)],
        leave_message, dial=DIAL, window=ALL_DAY, machine_detection=way,
        retry=RetryPolicy(machine=None), store=tmp_path / "c.db", max_concurrent=3)
    async with app:
        counts = await asyncio.wait_for(campaign.run(), 60)
    assert counts == {"answered": 2, "machine": 1}, heard
    assert [heard[n].answerer for n in ("800", "801", "802")] == [
        "human", "human", "machine"], heard
    assert heard["802"].cause in ("long_greeting", "max_words")
    records = {r.number: r for r in await campaign.records()}
    assert records["802"].history[0].result == "message left"
    detection = records["802"].history[0].detection
    assert detection is not None and detection["answerer"] == "machine"
    assert records["800"].history[0].result == "spoke"
    for sip in callees:
        assert (await sip.result()).succeeded


async def test_two_workers_share_a_postgresql_store_and_take_over_a_dead_ones_dials(
        voxtra_settings: VoxtraSettings, watch: AsteriskWatch, tmp_path: Path,
        postgres_dsn: str) -> None:
    """Two worker processes (each its own Stasis application) run one campaign from one
    PostgreSQL store: no contact is dialled twice at once or after its answer, the
    campaign's limits hold across both (seen from Asterisk), and when one is killed the
    other settles its dials once their lease has run out."""
    answering = await callee("answer", 100)
    campaign = f"shared-{random.randrange(1 << 30)}"
    contacts = [{"number": f"90{i:02d}", "port": str(answering.port)} for i in range(14)]
    workers = await start_workers(
        tmp_path, {name: (DIAL, worker_env(voxtra_settings, f"{voxtra_settings.app_name}-{name}"))
                   for name in ("a", "b")},
        contacts=contacts, dsn=postgres_dsn, campaign=campaign, lease=3, max_concurrent=3,
        calls_per_second=5, hold=1.0)
    left, counts, records = await kill_a_then_finish_with_b(  # a dies mid-dial
        postgres_dsn, campaign, workers, lambda held, counts: any(
            c.owner == "worker-a" for c in held) and counts.get("answered", 0) >= 4)
    assert counts == {"answered": 14}
    assert left, "worker a held no dial when it was killed"
    for claim in left:  # settled by b, after the lease a had taken
        settled = records[claim.number].history[claim.attempt - 1]
        assert settled.ended is not None and settled.ended >= claim.lease_until
    owner_of = {a.channel_id: r.number for r in records.values() for a in r.history}
    async with asyncio.timeout(10):
        while set(watch.destroyed) != set(watch.created):
            await asyncio.sleep(0.1)
    assert set(watch.created) <= set(owner_of)
    held = Counter(owner_of[c] for c, up in watch.answered.items()
                   if watch.destroyed[c] - up > 0.05)
    assert held == Counter(list(records)), held
    # Two processes each wait for their slot on a loaded 2-core machine: a start may
    # reach Asterisk a few tens of ms off its slot, never a second's worth early.
    assert watch.most_at_once() <= 3
    assert min(watch.start_gaps()) >= 0.2 - 0.05
    assert watch.most_starts_within(1.0) <= 5 + 1
    await answering.stop()


async def test_workers_on_two_asterisks_settle_a_dead_ones_dials_and_call_no_one_twice(
        voxtra_settings: VoxtraSettings, plain_asterisk: SandboxState, tmp_path: Path,
        postgres_dsn: str) -> None:
    """Worker a dials through the test session's Asterisk, worker b through another (the
    stock-configured one), from one PostgreSQL store. Worker a is killed while one of its
    dials is answered. Worker b cannot see a's channels: it takes the answer a recorded
    for done, and settles a's other dials once they can no longer be ringing
    (``ring_timeout`` after a's lease). Every contact ends answered, none answered
    twice."""
    answering = await callee("answer", 100)
    campaign = f"two-asterisks-{random.randrange(1 << 30)}"
    contacts = [{"number": f"91{i:02d}", "port": str(answering.port)} for i in range(12)]
    plain_env = {**os.environ, "VOXTRA_ARI_URL": plain_asterisk.ari_url,
                 "VOXTRA_ARI_USER": plain_asterisk.ari_user,
                 "VOXTRA_ARI_PASSWORD": plain_asterisk.ari_password,
                 "VOXTRA_APP_NAME": "voxtra-plain-b"}
    setups = {"a": (DIAL, worker_env(voxtra_settings, f"{voxtra_settings.app_name}-a")),
              "b": ("PJSIP/phone/sip:{number}@127.0.0.1:{port}", plain_env)}
    workers = await start_workers(tmp_path, setups, contacts=contacts, dsn=postgres_dsn,
                                  campaign=campaign, lease=3, max_concurrent=4,
                                  calls_per_second=5, hold=2.0)
    try:  # a's dial answered and under way: a dies
        left, counts, records = await kill_a_then_finish_with_b(
            postgres_dsn, campaign, workers,
            lambda held, _: any(c.owner == "worker-a" and c.answered for c in held))
    finally:  # no worker is left on a's Asterisk to end a's answered call: the callee would
        async with AriClient(voxtra_settings.ari_url, voxtra_settings.ari_user,
                             voxtra_settings.ari_password.get_secret_value()) as client:
            for channel in await client.channels.list():
                if channel.id.startswith(CAMPAIGN_CHANNEL_PREFIX):
                    with contextlib.suppress(NotFoundError):
                        await client.channels.hangup(channel.id)
    assert counts == {"answered": 12}
    assert {c.asterisk for c in left} != {""} and any(c.answered for c in left), left
    answers = {n: sum(a.answered is not None for a in r.history) for n, r in records.items()}
    assert set(answers.values()) == {1}, answers  # nobody called again after an answer
    for claim in left:
        settled = records[claim.number].history[claim.attempt - 1]
        assert settled.outcome == ("answered" if claim.answered else "interrupted")
        if not claim.answered:  # no longer ringing: ring_timeout (1 s) after the lease
            assert settled.ended is not None and settled.ended >= claim.lease_until + 1
    await answering.stop()


async def test_calls_no_one_takes_are_abandoned_identified_and_slow_the_dialling(
        voxtra_settings: VoxtraSettings, watch: AsteriskWatch, tmp_path: Path) -> None:
    """A campaign that connects answered calls to agents: the odd contacts find no agent
    within ``abandon_after``, hear the identification, count as abandoned; past 80 % of
    the cap the dial starts are spaced twice as far apart (seen from Asterisk)."""
    answering = await callee("answer", 12)
    campaign: Campaign | None = None

    async def agent_or_none(call: CallSession) -> None:
        assert campaign is not None
        if int(call.metadata["contact"]) % 2 == 0:
            campaign.connected(call)  # an agent picked up at once
        await asyncio.sleep(2.5)
        await call.hangup()

    app = VoxtraApp(voxtra_settings)
    campaign = Campaign(
        app, [Contact(str(9500 + i), {"port": str(answering.port)}) for i in range(12)],
        agent_or_none, dial=DIAL, window=ALL_DAY, max_concurrent=12, calls_per_second=4,
        abandon_after=0.8, identification="sound:hello-world", store=tmp_path / "c.db")
    async with app:
        counts = await asyncio.wait_for(campaign.run(), 60)
    assert counts == {"answered": 12}
    assert await campaign.abandonment() == (6, 12, 0.5)
    records = {r.number: r for r in await campaign.records()}
    abandoned = {n for n, r in records.items() if r.history[0].abandoned}
    assert abandoned == {str(9500 + i) for i in range(1, 12, 2)}
    played = {owner: watch.played.get(r.history[0].channel_id, [])
              for owner, r in records.items()}
    assert all(played[n] == ["sound:hello-world"] for n in abandoned), played
    assert not any(played[n] for n in set(records) - abandoned), played
    # The first abandonment comes 0.8 s after the second answer (at about 1.3 s): the
    # gaps before are a quarter of a second (a busy machine may stretch some, never
    # shorten one), the last four half a second.
    gaps = watch.start_gaps()
    assert len(gaps) == 11 and min(gaps[:4]) < 0.4 and min(gaps[-4:]) >= 0.45, gaps
    assert (await answering.result()).succeeded
