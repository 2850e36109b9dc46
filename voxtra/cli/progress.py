"""What ``voxtra campaign run`` shows while it dials: contacts by state and outcome, the
dials sent, the dial rate and the time left, as a live table on a terminal or as a line
every few seconds elsewhere (a log, CI)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.table import Table

#: Contact states and outcomes in the order shown; any other outcome follows.
ORDER = ("pending", "dialling", "answered", "busy", "no_answer", "machine", "congestion",
         "failed", "do_not_call", "interrupted")
#: Not finished: counted in the time left.
OPEN = ("pending", "dialling")


@dataclass(frozen=True)
class Figures:
    counts: dict[str, int]
    dials: int
    #: Dials sent per second, over the last :attr:`Progress.window` seconds.
    rate: float | None
    #: Seconds until every contact is finished at the recent pace (None: unknown).
    eta: float | None

    def line(self) -> str:
        """The figures on one line."""
        parts = [f"{name.replace('_', ' ')} {count}" for name, count in _ordered(self.counts)]
        parts += [f"dials {self.dials}", f"rate {_rate(self.rate)}", f"ETA {_eta(self.eta)}"]
        return " | ".join(parts)

    def table(self, title: str) -> Table:
        """The figures as a table, for a live view."""
        table = Table(title=title, show_header=False, min_width=36)
        table.add_column(style="bold")
        table.add_column(justify="right")
        for name, count in _ordered(self.counts):
            table.add_row(name.replace("_", " "), str(count))
        table.add_section()
        table.add_row("dials sent", str(self.dials))
        table.add_row("dial rate", _rate(self.rate))
        table.add_row("time left", _eta(self.eta))
        return table


class Progress:
    """Samples of a running campaign, turned into :class:`Figures`."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        #: (time, dials sent, contacts finished)
        self._samples: deque[tuple[float, int, int]] = deque()

    def update(self, now: float, counts: dict[str, int], dials: int) -> Figures:
        finished = sum(n for name, n in counts.items() if name not in OPEN)
        samples = self._samples
        samples.append((now, dials, finished))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        began, first_dials, first_finished = samples[0]
        elapsed = now - began
        rate = (dials - first_dials) / elapsed if elapsed > 0 else None
        left = sum(counts.get(name, 0) for name in OPEN)
        pace = (finished - first_finished) / elapsed if elapsed > 0 else 0.0
        eta = 0.0 if left == 0 else (left / pace if pace > 0 else None)
        return Figures(dict(counts), dials, rate, eta)


def _ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
    known = [(name, counts.get(name, 0)) for name in ORDER]
    return known + sorted((n, c) for n, c in counts.items() if n not in ORDER)


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.2f}/s"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
