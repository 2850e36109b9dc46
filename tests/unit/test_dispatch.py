"""Dispatch rules of the app, fed with ARI events by a local ARI (no Asterisk needed)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.settings import VoxtraSettings
from voxtra.testing.ari import FakeAri


def channel(cid: str) -> dict[str, object]:
    return {"id": cid, "name": f"PJSIP/loopback-{cid}", "state": "Up",
            "caller": {"name": "", "number": "100"}}


def text(kind: str, cid: str, **fields: object) -> str:
    return json.dumps({"type": kind, "application": "voxtra", "channel": channel(cid),
                       **fields})


@pytest.fixture
async def ari() -> AsyncIterator[FakeAri]:
    async with FakeAri() as fake:
        yield fake


@pytest.fixture
async def app(ari: FakeAri, caplog: pytest.LogCaptureFixture) -> AsyncIterator[VoxtraApp]:
    caplog.set_level(logging.CRITICAL)  # the calls' media cannot reach an Asterisk here
    app = VoxtraApp(VoxtraSettings(ari_url=ari.url, ari_password=SecretStr(ari.password)))
    await app.start()
    yield app
    await app.stop()  # the calls' tasks end with the test, not when collected


async def test_order_per_call_and_no_call_waits_for_another(app: VoxtraApp,
                                                             ari: FakeAri) -> None:
    heard: dict[str, list[str]] = {"fast": [], "slow": []}
    finished: list[str] = []
    slow_may_go = asyncio.Event()

    @app.route()
    async def collect(call: CallSession) -> None:
        name = call.id
        if name == "slow":
            await slow_may_go.wait()
        for _ in range(9):
            digit = await call.listen_dtmf(timeout=2)
            assert digit is not None
            heard[name].append(digit)
        finished.append(name)

    await ari.send(text("StasisStart", "slow", args=["1"]))
    await ari.send(text("StasisStart", "fast", args=["2"]))
    for digit in "123456789":
        await ari.send(text("ChannelDtmfReceived", "slow", digit=digit))
        await ari.send(text("ChannelDtmfReceived", "fast", digit=digit))
    async with asyncio.timeout(5):
        while finished != ["fast"]:
            await asyncio.sleep(0.01)
        slow_may_go.set()
        while len(finished) < 2:
            await asyncio.sleep(0.01)
    assert heard == {"fast": list("123456789"), "slow": list("123456789")}
    await app.client.close()


async def test_ended_call_is_not_revived_by_late_events(app: VoxtraApp, ari: FakeAri) -> None:
    started: list[str] = []

    @app.route()
    async def wait(call: CallSession) -> None:
        started.append(call.id)
        await call.wait_ended()

    await ari.send(text("StasisStart", "c1", args=["1"]))
    await ari.send(text("StasisEnd", "c1"))
    async with asyncio.timeout(5):
        while app.calls:
            await asyncio.sleep(0.01)
    await ari.send(text("StasisStart", "c1", args=["1"]))
    await ari.send(text("ChannelDtmfReceived", "c1", digit="1"))
    await asyncio.sleep(0.05)
    assert started == ["c1"] and not app.calls
    await app.client.close()


async def test_serve_waits_for_asterisk_and_stops_on_sigterm(
        caplog: pytest.LogCaptureFixture) -> None:
    import os
    import signal
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = VoxtraApp(VoxtraSettings(ari_password=SecretStr("offline-test-password"),
                                   ari_url=f"http://127.0.0.1:{port}"))
    caplog.set_level(logging.WARNING)
    serving = asyncio.create_task(app.serve())
    await asyncio.sleep(0.3)
    assert not serving.done()
    os.kill(os.getpid(), signal.SIGTERM)  # handled by serve(), not fatal
    await asyncio.wait_for(serving, 5)
    assert "waiting for Asterisk" in caplog.text
    await app.client.close()
