"""Fixtures for end-to-end tests that drive ARI directly."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest

from voxtra.ari.client import AriClient
from voxtra.sandbox.asterisk import SandboxState
from voxtra.settings import VoxtraSettings
from voxtra.testing.events import EventLog


@pytest.fixture
async def ari(voxtra_settings: VoxtraSettings) -> AsyncIterator[AriClient]:
    client = AriClient(voxtra_settings.ari_url, voxtra_settings.ari_user,
                       voxtra_settings.ari_password.get_secret_value())
    yield client
    await client.close()


@pytest.fixture
async def events(ari: AriClient, voxtra_settings: VoxtraSettings) -> AsyncIterator[EventLog]:
    log = EventLog(ari, voxtra_settings.app_name)
    await log.start()
    yield log
    await log.stop()


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(sandbox_state: SandboxState) -> Iterator[None]:
    """After the suite, Asterisk holds no channel and no bridge (asked through ARI)."""
    yield
    token = base64.b64encode(
        f"{sandbox_state.ari_user}:{sandbox_state.ari_password}".encode()).decode()

    def get(path: str) -> list[dict[str, object]]:
        request = urllib.request.Request(f"{sandbox_state.ari_url}/ari{path}",
                                         headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    deadline = time.monotonic() + 5
    while (get("/channels") or get("/bridges")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get("/channels") == [], "channels left behind"
    assert get("/bridges") == [], "bridges left behind"
