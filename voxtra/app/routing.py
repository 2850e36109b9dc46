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
    from voxtra.call.session import CallSession

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


def _number_matcher(spec: str) -> Callable[[str], bool]:
    """``_...`` is an Asterisk pattern; anything else an exact number (normalised)."""
    if spec.startswith("_"):
        regex = asterisk_pattern(spec)
        return lambda number: bool(regex.match(number))
    wanted = normalise_number(spec)
    return lambda number: number == spec or normalise_number(number) == wanted


def _header_is(name: str, value: str) -> Callable[[CallInfo], bool]:
    return lambda info: info.headers.get(name) == value


@dataclass(frozen=True)
class CallInfo:
    """What routing looks at: the dialled number, the caller, and SIP headers asked for."""

    called_number: str
    caller_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    """One route; every condition given must hold.

    ``did``: the dialled number, normalised (``+1 555 0100`` matches ``+15550100``);
    ``extension``: the dialled extension exactly as dialled; ``pattern``: an
    Asterisk pattern (``_1NXXNXXXXXX``) or a regex on the dialled number;
    ``caller``: the caller's number (exact, normalised, or ``_`` pattern);
    ``header``: SIP headers of the INVITE and their exact values.
    """

    handler: Handler
    did: str | None = None
    extension: str | None = None
    pattern: str | None = None
    caller: str | None = None
    header: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    _checks: list[Callable[[CallInfo], bool]] = field(default_factory=list, init=False,
                                                      repr=False)

    def __post_init__(self) -> None:
        if self.did is not None:
            raw, wanted = self.did, normalise_number(self.did)
            self._checks.append(lambda info: info.called_number == raw
                                or normalise_number(info.called_number) == wanted)
        if self.extension is not None:
            extension = self.extension
            self._checks.append(lambda info: info.called_number == extension)
        if self.pattern is not None:
            regex = (asterisk_pattern(self.pattern) if self.pattern.startswith("_")
                     else re.compile(self.pattern))
            self._checks.append(lambda info: bool(regex.match(info.called_number)))
        if self.caller is not None:
            caller = _number_matcher(self.caller)
            self._checks.append(lambda info: caller(info.caller_id))
        for name, value in self.header.items():
            self._checks.append(_header_is(name, value))

    @property
    def is_default(self) -> bool:
        return not self._checks

    def matches(self, info: CallInfo) -> bool:
        return all(check(info) for check in self._checks)

    def __str__(self) -> str:
        """``did=+15550100 -> hello``: the conditions, and the handler's name."""
        conditions = [f"{name}={value}" for name in ("did", "extension", "pattern", "caller")
                      if (value := getattr(self, name)) is not None]
        conditions += [f"header {name}={value}" for name, value in self.header.items()]
        handler = getattr(self.handler, "__name__", repr(self.handler))
        return f"{' '.join(conditions) or 'any call'} -> {handler}"


class Router:
    """An ordered list of routes."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, route: Route) -> None:
        self.routes.append(route)
        # Higher priority first; within a priority, routes with conditions before the
        # default route; otherwise registration order (the sort is stable).
        self.routes.sort(key=lambda r: (-r.priority, r.is_default))

    @property
    def header_names(self) -> set[str]:
        """The SIP headers some route looks at (read from the channel before routing)."""
        return {name for route in self.routes for name in route.header}

    def match(self, info: CallInfo) -> Route | None:
        return next((r for r in self.routes if r.matches(info)), None)
