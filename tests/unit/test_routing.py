"""Route matching on the dialled number."""

from __future__ import annotations

import pytest

from voxtra.app.routing import CallInfo, Route, Router, asterisk_pattern, normalise_number
from voxtra.call.session import CallSession


async def handler(call: CallSession) -> None:
    return None


@pytest.mark.parametrize(("raw", "normal"), [
    ("+1 (555) 010-0000", "+15550100000"),
    ("555.010.0000", "5550100000"),
    ("100", "100"),
])
def test_normalise_number(raw: str, normal: str) -> None:
    assert normalise_number(raw) == normal


@pytest.mark.parametrize(("pattern", "number", "matches"), [
    ("_1NXXNXXXXXX", "12125550100", True),
    ("_1NXXNXXXXXX", "11125550100", False),
    ("_1NXXNXXXXXX", "121255501000", False),
    ("_X.", "5", False),
    ("_X.", "55", True),
    ("_+44[1-3]!", "+441", True),
    ("_+44[1-3]!", "+444", False),
])
def test_asterisk_patterns(pattern: str, number: str, matches: bool) -> None:
    assert bool(asterisk_pattern(pattern).match(number)) is matches


def test_priority_then_registration_order_and_default() -> None:
    router = Router()
    default = Route(handler)
    first = Route(handler, pattern="_1X.", metadata={"n": 1})
    second = Route(handler, pattern="_1X.", metadata={"n": 2})
    urgent = Route(handler, did="+1 800 555 0100", priority=10)
    for route in (default, first, second, urgent):
        router.add(route)
    assert router.match(CallInfo("+18005550100")) is urgent
    assert router.match(CallInfo("18005550100")) is first
    assert router.match(CallInfo("200")) is default


def test_regex_pattern() -> None:
    route = Route(handler, pattern=r"^9\d{2}$")
    assert route.matches(CallInfo("912")) and not route.matches(CallInfo("9123"))


def test_caller_header_and_extension_conditions_all_hold() -> None:
    route = Route(handler, extension="100", caller="_555XXXX",
                  header={"X-Room-ID": "room-42"})
    assert route.matches(CallInfo("100", "5551234", {"X-Room-ID": "room-42"}))
    assert not route.matches(CallInfo("100", "5551234", {"X-Room-ID": "room-7"}))
    assert not route.matches(CallInfo("100", "4441234", {"X-Room-ID": "room-42"}))
    assert not route.matches(CallInfo("+100", "5551234", {"X-Room-ID": "room-42"}))
    router = Router()
    router.add(route)
    router.add(Route(handler, caller="+1 555 0100"))
    assert router.header_names == {"X-Room-ID"}
    assert router.match(CallInfo("7", "+15550100")) is router.routes[1]
