"""The chaos suite: what the app survives. Each test records its figures through the
``figures`` fixture; they are printed at the end of the run."""

from __future__ import annotations

import pytest

FIGURES: dict[str, str] = {}


@pytest.fixture
def figures() -> dict[str, str]:
    return FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("chaos figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
