"""What every cloud provider needs before it talks to its service: its key and its SDK."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from pydantic import SecretStr

from voxtra.voice.errors import ProviderError


def api_key(given: str | SecretStr | None, variable: str, provider: str, *,
            required: bool = True) -> SecretStr | None:
    """The key given, else the environment ``variable``; a missing required key is a
    clear error at construction (at app start), never in the middle of a call."""
    key = given.get_secret_value() if isinstance(given, SecretStr) else given
    key = key or os.environ.get(variable)
    if key:
        return SecretStr(key)
    if required:
        raise ProviderError(provider, f"no API key: set {variable} or pass api_key=",
                            retryable=False)
    return None


def sdk(module: str, provider: str, extra: str) -> ModuleType:
    """Import a vendor SDK, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ProviderError(provider, f"the {module} package is not installed: install "
                            f"voxtra-asterisk[{extra}]", retryable=False) from exc
