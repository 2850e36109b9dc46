"""The figures ``voxtra campaign run`` shows: dial rate and time left from samples of the
campaign's counts, as a line and as a table."""

from __future__ import annotations

from rich.console import Console

from voxtra.cli.progress import Progress


def test_rate_and_time_left_follow_the_recent_pace() -> None:
    progress = Progress(window=60)
    first = progress.update(0.0, {"pending": 10}, 0)
    assert first.rate is None and first.eta is None  # nothing to go by yet
    later = progress.update(10.0, {"pending": 6, "dialling": 2, "answered": 1, "busy": 1}, 4)
    assert later.rate == 0.4  # 4 dials in 10 s
    assert later.eta == 40.0  # 8 open contacts at 2 finished per 10 s
    done = progress.update(20.0, {"answered": 8, "busy": 2}, 10)
    assert done.eta == 0.0


def test_old_samples_leave_the_window() -> None:
    progress = Progress(window=10)
    progress.update(0.0, {"pending": 4}, 0)
    progress.update(5.0, {"pending": 4}, 100)  # a burst long ago
    progress.update(16.0, {"pending": 3, "answered": 1}, 101)
    figures = progress.update(20.0, {"pending": 2, "answered": 2}, 102)
    assert round(figures.rate or 0, 3) == round(2 / 15, 3)  # from t=5 on: 2 dials in 15 s


def test_the_line_and_the_table_name_every_count() -> None:
    figures = Progress().update(0.0, {"pending": 3, "no_answer": 2, "expired": 1}, 5)
    line = figures.line()
    assert line.startswith("pending 3 | dialling 0 | answered 0 | busy 0 | no answer 2")
    assert "expired 1 | dials 5 | rate - | ETA -" in line
    console = Console(record=True, width=60)
    console.print(figures.table("campaign reminders"))
    text = console.export_text()
    assert "campaign reminders" in text and "no answer" in text and "expired" in text
    assert "dials sent" in text and "time left" in text
