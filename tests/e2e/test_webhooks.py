"""Call events posted to a receiver over HTTP, signed: what a real call sends, what the
receiver's check refuses (a replay, another secret, an altered body), and a dead
receiver that neither slows a call nor holds more than its queue.

Protocol facts relied on: SIPp's SIP INFO DTMF (``application/dtmf-relay``) reaches ARI as
``ChannelDtmfReceived``; answering a channel raises ``ChannelStateChange`` to ``Up``;
Asterisk's cause for a hangup by the app is 16 (normal clearing).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import generate_latest

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.webhooks import (
    SIGNATURE_HEADER,
    WebhookSender,
    WebhookSignatureError,
    verify_signature,
)

SECRET = "a-shared-secret-of-some-length"
RECEIVER_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py"


class Receiver:
    """A webhook receiver on loopback that checks each signature as it arrives."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        self.events: list[dict[str, Any]] = []
        self.refused = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get(SIGNATURE_HEADER, "")
        try:
            verify_signature(body, header, SECRET)
        except WebhookSignatureError:
            self.refused += 1
            return web.Response(status=401)
        self.received.append((body, header))
        self.events.append(json.loads(body))
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks"
    yield found
    await runner.cleanup()


def with_hooks(settings: VoxtraSettings, url: str) -> VoxtraSettings:
    return VoxtraSettings(**{**settings.model_dump(), "ari_password": settings.ari_password,
                             "webhook_url": url, "webhook_secret": SECRET})


async def test_a_call_is_posted_as_signed_events_that_a_replay_cannot_reuse(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, receiver: Receiver) -> None:
    app = VoxtraApp(with_hooks(voxtra_settings, receiver.url))
    keys: list[str] = []

    @app.route()
    async def menu(call: CallSession) -> None:
        await call.answer()
        for _ in range(2):
            keys.append(await call.listen_dtmf(timeout=10) or "")
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript("410", dtmf="47", wait_for_bye=15))
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert keys == ["4", "7"]
    kinds = [e["type"] for e in receiver.events]
    assert kinds == ["call.started", "call.answered", "call.dtmf", "call.dtmf",
                     "call.ended"], kinds
    call_id = receiver.events[0]["call_id"]
    assert {e["call_id"] for e in receiver.events} == {call_id}
    assert len({e["id"] for e in receiver.events}) == 5
    assert receiver.events[0]["data"]["called_number"] == "410"
    assert [e["data"]["digit"] for e in receiver.events if e["type"] == "call.dtmf"] == \
        ["4", "7"]
    ended = receiver.events[-1]["data"]
    assert ended["state"] == "completed" and ended["cause"] == 16 and ended["duration"] > 0
    assert receiver.refused == 0
    body, header = receiver.received[0]
    signed_at = int(header.split(",")[0].removeprefix("t="))
    verify_signature(body, header, SECRET, now=signed_at + 299)  # late, not too late
    with pytest.raises(WebhookSignatureError, match="outside 300 s"):
        verify_signature(body, header, SECRET, now=signed_at + 301)  # a replay
    with pytest.raises(WebhookSignatureError, match="mismatch"):
        verify_signature(body.replace(b"410", b"411"), header, SECRET)
    with pytest.raises(WebhookSignatureError, match="mismatch"):
        verify_signature(body, header, "another-secret-of-some-length")
    with pytest.raises(WebhookSignatureError, match="no Voxtra-Signature"):
        verify_signature(body, None, SECRET)
    scraped = generate_latest(app.telemetry.registry).decode()
    assert 'voxtra_webhooks_total{result="delivered"} 5.0' in scraped


async def test_a_dead_receiver_neither_slows_calls_nor_holds_more_than_its_queue(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller) -> None:
    """The receiver accepts connections and never answers. Three calls, one after the
    other, each answered and ended by the app while the first event is still waiting
    for its answer; the queue (4) keeps four events and the rest are counted dropped."""
    hung = asyncio.Event()

    async def never_answers(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        await hung.wait()

    server = await asyncio.start_server(never_answers, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks"
    app = VoxtraApp(with_hooks(voxtra_settings, url))
    assert app.webhooks is not None
    app.webhooks.sender = WebhookSender(url, SECRET, app.app_name, queue_size=4, timeout=60,
                                        count=app.telemetry.webhook)
    fates: dict[str, float] = {}

    @app.route()
    async def quick(call: CallSession) -> None:
        await call.answer()
        await call.play_file("sound:beep")
        await call.hangup()

    try:
        async with app:
            results = [await sip_caller.call(CallerScript("420", wait_for_bye=10))
                       for _ in range(3)]
            async with asyncio.timeout(5):  # the last call's own end (its events sent)
                while app.calls:
                    await asyncio.sleep(0.05)
            for family in app.telemetry.webhooks.collect():
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        fates[sample.labels["result"]] = sample.value
    finally:
        hung.set()
        server.close()
    assert all(r.succeeded and r.answered and r.hung_up_by_remote for r in results)
    # 3 calls x (started, answered, ended) = 9 events: one in flight, 4 queued, 4 dropped.
    assert fates == {"dropped": 4}, fates


async def test_the_example_receiver_takes_a_calls_events_and_refuses_forgeries(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller) -> None:
    """``examples/webhook_receiver.py`` (shown in the docs) behind a real call: it keeps
    the call's events, and answers 401 to a replay signed ten minutes ago and to a body
    signed with another secret."""
    import importlib.util

    import aiohttp

    from voxtra.webhooks import sign

    spec = importlib.util.spec_from_file_location("webhook_receiver", RECEIVER_EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    receiver = example.make_receiver(SECRET)
    runner = web.AppRunner(receiver)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks"
    try:
        app = VoxtraApp(with_hooks(voxtra_settings, url))

        @app.route()
        async def short(call: CallSession) -> None:
            await call.answer()
            await call.hangup()

        async with app:
            result = await sip_caller.call(CallerScript("430", wait_for_bye=10))
        body = b'{"type": "call.ended"}'
        async with aiohttp.ClientSession() as session:
            statuses = []
            for header in (sign(body, SECRET, timestamp=time.time() - 600),
                           sign(body, "not-the-shared-secret-at-all")):
                async with session.post(url, data=body,
                                        headers={SIGNATURE_HEADER: header}) as response:
                    statuses.append(response.status)
    finally:
        await runner.cleanup()
    assert result.succeeded and result.hung_up_by_remote
    assert [e["type"] for e in receiver[example.EVENTS]] == [
        "call.started", "call.answered", "call.ended"]
    assert statuses == [401, 401]
