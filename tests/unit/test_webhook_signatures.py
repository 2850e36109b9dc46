"""Webhook signatures and their settings, without a network."""

from __future__ import annotations

import pytest

from voxtra.settings import ConfigError, load_settings
from voxtra.webhooks import WebhookSignatureError, sign, verify_signature


def test_a_signature_holds_for_its_body_secret_and_time_only() -> None:
    body = b'{"type": "call.ended"}'
    header = sign(body, "s" * 20, timestamp=1_000_000)
    assert header.startswith("t=1000000,v1=") and len(header.split("v1=")[1]) == 64
    verify_signature(body, header, "s" * 20, now=1_000_000)
    for broken in ("t=1000000", "v1=abc", "t=soon,v1=abc", "garbage"):
        with pytest.raises(WebhookSignatureError, match="malformed"):
            verify_signature(body, broken, "s" * 20, now=1_000_000)
    with pytest.raises(WebhookSignatureError, match="outside 60 s"):
        verify_signature(body, header, "s" * 20, tolerance=60, now=1_000_000 - 61)


def test_a_webhook_url_needs_a_long_enough_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXTRA_ARI_PASSWORD", "x" * 16)
    monkeypatch.setenv("VOXTRA_WEBHOOK_URL", "https://example.com/hooks")
    with pytest.raises(ConfigError, match="VOXTRA_WEBHOOK_SECRET"):
        load_settings()
    monkeypatch.setenv("VOXTRA_WEBHOOK_SECRET", "short")
    with pytest.raises(ConfigError, match="16 characters"):
        load_settings()
    monkeypatch.setenv("VOXTRA_WEBHOOK_SECRET", "long-enough-secret")
    assert load_settings().webhook_secret is not None
    monkeypatch.setenv("VOXTRA_WEBHOOK_URL", "ftp://example.com")
    with pytest.raises(ConfigError, match="http"):
        load_settings()
