"""Which handler gets which call.

A :class:`Route` matches on the dialled number (``did`` exact, normalised;
``pattern`` Asterisk-style ``_1NXXNXXXXXX`` or a regex) and is tried in order of
``priority`` (higher first), then registration order. A route with no
conditions matches every call: it is the default route, tried after the routes
with conditions of the same priority.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxtra.session import CallSession

Handler = Callable[["CallSession"], Awaitable[None]]

_ASTERISK_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}


def normalise_number(number: str) -> str:
    """Digits only, with a leading ``+`` kept: ``+1 (555) 010-0000`` → ``+15550100000``."""
    digits = re.sub(r"[^0-9]", "", number)
    return ("+" + digits) if number.strip().startswith("+") else digits


def asterisk_pattern(pattern: str) -> re.Pattern[str]:
    """Compile an Asterisk extension pattern (``_NXX``, ``_1[2-9]X.``) into a regex."""
    if not pattern.startswith("_"):
        raise ValueError(f"Asterisk pattern {pattern!r} must start with '_'")
    out, i = [], 1
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            end = pattern.find("]", i)
            if end < 0:
                raise ValueError(f"Asterisk pattern {pattern!r}: '[' without ']'")
            out.append(pattern[i:end + 1])
            i = end + 1
            continue
        out.append(_ASTERISK_CLASSES.get(char.upper(), re.escape(char)))
        i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass
class Route:
    handler: Handler
    did: str | None = None
    pattern: str | None = None
    priority: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.pattern is not None:
            self._regex = (asterisk_pattern(self.pattern) if self.pattern.startswith("_")
                           else re.compile(self.pattern))

    @property
    def is_default(self) -> bool:
        return self.did is None and self.pattern is None

    def matches(self, called_number: str) -> bool:
        if self.did is not None and normalise_number(self.did) not in (
                called_number, normalise_number(called_number)):
            return False
        return self._regex is None or bool(self._regex.match(called_number))


class Router:
    """An ordered list of routes."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, route: Route) -> None:
        self.routes.append(route)
        # Higher priority first; within a priority, routes with conditions before the
        # default route; otherwise registration order (the sort is stable).
        self.routes.sort(key=lambda r: (-r.priority, r.is_default))

    def match(self, called_number: str) -> Route | None:
        return next((r for r in self.routes if r.matches(called_number)), None)
