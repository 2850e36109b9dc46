"""What README.md and docs/ state about defaults and warnings, checked against the code
(each test quotes its claim; the numbers are read from the text, so a claim and the
code cannot drift apart unnoticed)."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxtra import load, runner
from voxtra.ari.client import AriClient

REPO = Path(__file__).parents[2]
#: The texts with their line breaks as spaces.
README = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
SECURITY = " ".join((REPO / "docs" / "security.md").read_text(encoding="utf-8").split())


def test_the_overload_figures_are_the_codes() -> None:
    """README: "A process that stays above 0.8 for 5 s logs `overloaded: ...` once, and
    `no longer overloaded` when it falls below 0.6"."""
    found = re.search(r"stays above ([\d.]+) for ([\d.]+) s logs `overloaded.*?"
                      r"falls below ([\d.]+)", README)
    assert found is not None, "the README no longer states the overload figures"
    assert tuple(map(float, found.groups())) == (load.OVERLOADED, load.SUSTAIN,
                                                  load.RECOVERED)


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    yield saved
    gc.set_threshold(*saved)


def test_run_tunes_the_collector_and_an_own_loop_can_too(
        thresholds: tuple[int, int, int]) -> None:
    """README: "`app.run()` tunes the garbage collector for media
    (`voxtra.runner.tune_gc`); an app that runs its own event loop calls it once"; its
    docstring: the middle generation is collected ten times less often."""
    gc.set_threshold(700, 10, 10)  # Python's defaults

    async def seen() -> tuple[int, int, int]:
        return gc.get_threshold()

    assert runner.run(seen()) == runner.GC_THRESHOLDS
    assert runner.GC_THRESHOLDS[1] == 10 * 10
    gc.set_threshold(700, 10, 10)
    runner.tune_gc()
    assert gc.get_threshold() == runner.GC_THRESHOLDS
    assert "`app.run()` tunes the garbage collector for media (`voxtra.runner.tune_gc`)" \
        in README


@pytest.mark.parametrize(("url", "warned"), [
    ("http://192.0.2.10:8088", True),
    ("http://asterisk.example.net:8088", True),
    ("http://127.0.0.1:8088", False),
    ("http://localhost:8088", False),
    ("http://[::1]:8088", False),
    ("https://192.0.2.10:8089", False),
])
async def test_plain_http_ari_beyond_loopback_is_warned_about(
        caplog: pytest.LogCaptureFixture, url: str, warned: bool) -> None:
    """docs/security.md: "Voxtra warns when a plain `http://` ARI URL points beyond
    loopback" (and the warning never carries the password)."""
    assert "Voxtra warns when a plain `http://` ARI URL points beyond loopback" in SECURITY
    caplog.set_level(logging.WARNING, logger="voxtra")
    client = AriClient(url, "voxtra", "pw-9f3c1e")  # the warning comes with the client
    warnings = [r.getMessage() for r in caplog.records if "plain HTTP" in r.getMessage()]
    assert bool(warnings) == warned, warnings
    assert "pw-9f3c1e" not in caplog.text
    await client.close()
