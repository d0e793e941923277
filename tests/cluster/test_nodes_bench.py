"""`python -m bench --quick --scenario F6` end to end, so the cluster benchmark never rots.

Asserts the row has its numbers and that the scaled-down run lost no change across nodes
and saw no error. Thresholds are not asserted (a quick run on a shared machine says
nothing about them); `./dev bench --scenario F6` measures them (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_f6_measures_cross_node_propagation_without_loss(tmp_path: Path, redis_target):
    raw = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--scenario", "F6", "--json", str(raw),
         "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [row] = json.loads(raw.read_text())
    data = row["data"]
    assert data["cluster"]["p99"] is not None and data["single"]["p99"] is not None
    assert data["ratio"] is not None and data["f1_workers"]["rate"] > 0
    assert data["lost"] == 0 and data["errors"] == 0, row
