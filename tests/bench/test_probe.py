"""`bench.probe` in a real trio process, and the per-second timeline built from its lines."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from bench import accounting, timeline

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = textwrap.dedent("""
    import gc, sys, time
    from bench import probe
    probe.install(sys.argv[1])
    import trio

    async def main():
        await trio.sleep(0.05)
        time.sleep(0.12)  # holds the run loop: a stall the probe must stamp
        gc.collect(1)
        with trio.move_on_after(10):  # deadlines for the heap line
            await trio.sleep(1.2)

    trio.run(main)
""")


def test_probe_stamps_stalls_collections_and_seconds(tmp_path: Path) -> None:
    out = tmp_path / "probe.csv"
    subprocess.run([sys.executable, "-c", PROGRAM, str(out)], cwd=ROOT, check=True, timeout=60)
    lines = [line.split(",") for line in out.read_text().splitlines()]
    kinds = {line[0] for line in lines}
    assert "missing" not in kinds, lines  # every reach into trio and the service found
    # the stall: 120 ms of wall time, and (time.sleep) almost none of it the thread's CPU
    assert any(k == "tick" and float(s) >= 0.12 and float(cpu) < 0.1
               for k, _, s, _, cpu in (line for line in lines if line[0] == "tick"))
    assert any(line[0] == "gc" and line[3] == "1" for line in lines)
    second = next(line for line in lines if line[0] == "second")
    assert len(second) == 11 and float(second[2]) >= 0.1  # busy seconds include the stall


def test_timeline_puts_latency_and_probe_events_in_the_second_they_happened() -> None:
    t0 = 100.0
    driven = {"start": t0, "posts": [["status", 1, 0, "away", 100.2, 200, 0.01],
                                     ["status", 2, 0, "away", 101.5, 200, 0.30]]}
    tally = accounting.Tally(latencies=[(100.2, 0.004), (101.5, 0.450)])
    probe = [["directory", "101.4", "0.600", "1"], ["gc", "103.0", "0.010", "1"]]
    trace = timeline.build(driven, {"presence": tally}, [], [], probe)
    assert [r["delivery_p99_ms"] for r in trace[:2]] == [4.0, 450.0]
    assert trace[1]["directory_ms"] == 600.0 and trace[1]["post_p99_ms"] == 300.0
    report = timeline.candidates(trace)
    assert "1 of 2 seconds had delivery p99 > 100 ms" in report
    assert "directory refresh          slow seconds with it: 1/1" in report
    assert "gen-2 collection           slow seconds with it: 0/1" in report
