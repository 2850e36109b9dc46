"""The root of Voxtra's errors. Each layer keeps its own in one module, whose docstring
draws its part of the tree; ``except VoxtraError`` catches them all::

    VoxtraError
    ├── ConfigError                 voxtra.settings: settings that cannot work
    ├── AsteriskConfError           voxtra.asterisk.conf: a value unsafe to render
    ├── AriError                    voxtra.ari.errors: the control plane (HTTP, websocket)
    ├── RtpError                    voxtra.media.errors: the media plane
    ├── ProviderError, ...          voxtra.voice.errors: speech and language providers
    ├── CallEndedError, ...         voxtra.call.errors: a call's verbs
    ├── RecordingError, ...         voxtra.recording.errors: recordings and their sinks
    ├── CampaignError               voxtra.outbound.errors: outbound campaigns
    └── SandboxError, ...           voxtra.sandbox.errors: the lab (Asterisk, SIPp, audio)
"""

from __future__ import annotations


class VoxtraError(Exception):
    """Every error Voxtra raises on purpose derives from this."""
