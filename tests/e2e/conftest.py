"""Fixtures for end-to-end tests that drive ARI directly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from voxtra.ari.client import AriClient
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
