"""The agents bench's harness at two conversations a framework, so that it cannot rot:
Voxtra on RTP endpoints, Pipecat 1.14 in its own venv (process per call, and one process),
the same callers and local cloud providers. What it checks is that every part did its
work (conversations held, replies heard, barge-ins cut replies, resources read), not how
fast: the figures are the bench's (``bench/README.md``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "agents_bench.py"


@pytest.mark.slow
def test_the_agents_bench_holds_conversations_on_both_frameworks() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--smoke", "--seconds", "20"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {(run["framework"], run["mode"]): run for run in json.loads(done.stdout)["smoke"]}
    assert set(runs) == {("voxtra", "one"), ("pipecat", "per-call"), ("pipecat", "one")}
    for name, run in runs.items():
        assert run["calls"] == 2 and run["turns"] >= 2, name
        # Every turn in the window was answered, and the reply heard at the caller's ear.
        assert run["no_reply"] == 0 and run["voice_to_voice_ms"]["n"] == run["turns"], name
        # Voice to voice holds the providers' own delays (the first sentence's tokens,
        # its first audio): a reply cannot come sooner.
        assert run["added_ms"]["p50"] > 0, name
        # Barge-ins were said over replies, and each cut its reply: silence came before
        # the reply's end (it plays 2.8 s; the caller cut in 1 s into it).
        assert run["barge_in_ms"]["n"] >= 1 and run["barge_in_ms"]["p99"] < 1800, name
        assert run["cpu_per_call_pct"] > 0 and run["rss_mib"] > 50, name
