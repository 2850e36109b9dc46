"""What Voxtra needs from an Asterisk, checked through ARI before the first call.

``GET /asterisk/modules`` lists the loaded modules; each feature names the modules
it needs, so a missing one is reported with what it breaks instead of surfacing as
an HTTP error in the middle of a call. (What ARI cannot see, such as a missing
``spool/recording`` directory, is explained by the verb's own error.)
"""

from __future__ import annotations

from dataclasses import dataclass

from voxtra.ari.client import AriClient


@dataclass(frozen=True)
class Requirement:
    module: str
    needed_for: str
    #: Without it no call works at all.
    core: bool = False


REQUIREMENTS = (
    Requirement("res_ari", "ARI itself", core=True),
    Requirement("res_stasis", "Stasis applications", core=True),
    Requirement("res_ari_channels", "every call verb", core=True),
    Requirement("res_ari_bridges", "bridges, transfers, conferences", core=True),
    Requirement("res_ari_applications", "event subscriptions", core=True),
    Requirement("res_ari_events", "the event websocket", core=True),
    Requirement("res_ari_playbacks", "play_file", core=True),
    Requirement("chan_pjsip", "SIP calls and headers", core=True),
    Requirement("chan_rtp", "audio to and from the app: send_audio, say, listen, voice"),
    Requirement("res_ari_recordings", "recordings"),
    Requirement("res_stasis_recording", "recordings"),
    Requirement("res_stasis_snoop", "recordings and supervision"),
    Requirement("res_musiconhold", "hold and warm transfer"),
    Requirement("res_http_media_cache", "play_file of http(s) URLs"),
    Requirement("func_dialplan", "checking a dialplan place before continue_in_dialplan"),
    Requirement("app_queue", "transfer_to_queue"),
    Requirement("app_amd", "campaigns' answering-machine detection by Asterisk's AMD()"),
)


async def missing_requirements(client: AriClient) -> list[Requirement]:
    """The requirements whose module is not loaded and running."""
    loaded = {(m.name or "").removesuffix(".so") for m in await client.asterisk.list_modules()
              if (m.status or "").lower() == "running"}
    return [r for r in REQUIREMENTS if r.module not in loaded]
