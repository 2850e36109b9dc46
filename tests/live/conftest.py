"""Checks against the real cloud services, opt-in: ``VOXTRA_LIVE=1 .venv/bin/pytest tests/live``
with ``DEEPGRAM_API_KEY``, ``OPENAI_API_KEY`` and ``ELEVENLABS_API_KEY`` set.

Without ``VOXTRA_LIVE=1`` nothing here is collected (the suite runs offline, against local
servers that speak each service's protocol); with it, a missing key fails its test.
"""

from __future__ import annotations

import os

if os.environ.get("VOXTRA_LIVE") != "1":
    collect_ignore_glob = ["test_*.py"]

