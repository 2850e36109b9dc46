"""A campaign's results as files: every contact's outcome, dials and results."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from voxtra.outbound.store import ContactRecord


def write_results(records: list[ContactRecord], target: Path) -> None:
    """The contacts' outcomes, dials and results as JSON (``.json``) or CSV."""
    rows = [{"number": r.number, "status": r.status, "outcome": r.outcome,
             "attempts": r.attempts, "variables": r.variables,
             "dials": [vars(a) for a in r.history]} for r in records]
    if target.suffix == ".json":
        target.write_text(json.dumps(rows, indent=1, default=str))
        return
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]) if rows else ["number"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "variables": json.dumps(row["variables"]),
                             "dials": json.dumps(row["dials"], default=str)})
