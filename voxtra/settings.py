"""Voxtra's one settings object (pydantic-settings: ``VOXTRA_*`` environment, ``.env``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class VoxtraSettings(BaseSettings):
    """How to reach Asterisk and how the app behaves."""

    model_config = SettingsConfigDict(env_prefix="VOXTRA_", env_file=".env", extra="ignore")

    #: ARI base URL; loopback by default.
    ari_url: str = "http://127.0.0.1:8088"
    ari_user: str = "voxtra"
    #: Required: there is no default password.
    ari_password: SecretStr
    #: The Stasis application name the dialplan sends calls to.
    app_name: str = "voxtra"
    #: Seconds running handlers get to finish on shutdown before calls are hung up.
    shutdown_grace: float = 10.0
    #: A call no route matches is rejected ("reject") or hears a prompt first ("announce").
    unmatched_action: Literal["reject", "announce"] = "reject"
    #: The hangup reason for unmatched calls (ARI: normal, busy, congestion, unallocated...).
    unmatched_cause: str = "unallocated"
    unmatched_prompt: str = "sound:ss-noservice"
    #: Where recordings land by default (LocalFileSink), and where files wait for a
    #: remote sink until it has them.
    recordings_dir: Path = Path("recordings")
