"""`python -m bench --quick` end to end, so the harness never rots.

Asserts the table has every scenario with numbers and that no scaled-down run saw an
error or lost an event. Performance thresholds are not asserted: a quick run on a shared
CI machine says nothing about them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("F1 fan-out", "F2 realistic mix", "F3 idle sockets", "F4 storage", "F5 actors",
             "F7 soak")


@pytest.mark.slow
@pytest.mark.postgres
def test_quick_run_reports_every_scenario_without_errors(tmp_path: Path) -> None:
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--json", str(raw),
         "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    table = out.read_text()
    for line in ("date:", "machine:", "python:", "libraries:"):
        assert line in table
    rows = {r.split("|")[1].strip(): r for r in table.splitlines() if r.startswith("| F")}
    assert sorted(rows) == sorted(SCENARIOS)
    for name, row in rows.items():
        result = row.split("|")[2]
        assert re.search(r"\d", result) and "failed" not in result, (name, row)

    for row in json.loads(raw.read_text()):
        assert row["data"]["errors"] == 0, row
        assert row["data"]["lost"] == 0, row
