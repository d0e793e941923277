"""`python -m bench [--quick] [--soak] [--scenario F1,F3] [--out bench/RESULTS.md]`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import f6_cluster, machine, report
from .scenarios import (
    Context,
    Row,
    Scale,
    f1_fanout,
    f2_mix,
    f3_idle,
    f4_storage,
    f5_actors,
    f7_soak,
)

SCENARIOS = {
    "F1": f1_fanout.run,
    "F2": f2_mix.run,
    "F3": f3_idle.run,
    "F4": f4_storage.run,
    "F5": f5_actors.run,
    "F6": f6_cluster.run,
    "F7": f7_soak.run,
}
NAMES = {"F1": "F1 fan-out", "F2": "F2 realistic mix", "F3": "F3 idle sockets",
         "F4": "F4 storage", "F5": "F5 actors", "F6": "F6 cluster",
         "F7": "F7 soak"}
FULL = "F1,F2,F3,F4,F5"  # F7 takes 30 minutes: only with --soak (or --quick, in seconds)
# F6 (two nodes on Redis) only when named: --scenario F6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every scenario scaled to seconds")
    parser.add_argument("--scenario", default=None,
                        help=f"comma-separated subset, e.g. F1,F3 (default {FULL})")
    parser.add_argument("--soak", action="store_true",
                        help="also run F7, the 30-minute soak (--set f7_minutes=N shortens it)")
    parser.add_argument("--out", type=Path, default=None,
                        help="Markdown table (default bench/RESULTS.md; none for --quick)")
    parser.add_argument("--json", type=Path, default=None, help="raw numbers as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="logs and scratch files")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one size, e.g. --set f3_sockets=5000 (see Scale)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="py-spy the server during F1/F2 measurement into DIR, and "
                        "stamp its stalls, GCs and refreshes (bench/probe.py)")
    args = parser.parse_args(argv)
    chosen = args.scenario or (FULL + ",F7" if args.quick or args.soak else FULL)
    wanted = [s.strip().upper() for s in chosen.split(",") if s.strip()]
    if args.soak and "F7" not in wanted:
        wanted.append("F7")
    unknown = [s for s in wanted if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")

    machine.raise_nofile()
    machine.pin(machine.LOAD_CORE)
    lock = None if args.quick else machine.exclusive_bench()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="presence-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    scale = Scale.quick_scale() if args.quick else Scale()
    for item in args.set:
        name, _, value = item.partition("=")
        if not hasattr(scale, name) or name == "quick":
            parser.error(f"--set: no size named {name!r}")
        setattr(scale, name, type(getattr(scale, name))(value))
    ctx = Context(scale, workdir, profile_dir=args.profile)
    environment = machine.describe()
    print("\n".join(environment), f"\nlogs: {workdir}", flush=True)

    started = time.monotonic()
    rows = []
    for name in wanted:
        print(f"{name} ...", flush=True)
        t0 = time.monotonic()
        try:
            row = SCENARIOS[name](ctx)
        except Exception as exc:
            traceback.print_exc()
            row = Row(NAMES[name], "failed", "-", False, f"{type(exc).__name__}: {exc}"[:300],
                      {"crashed": True})
        row.data["seconds"] = time.monotonic() - t0
        rows.append(row)
        print(f"{name} done in {row.data['seconds']:.0f} s: {row.result}", flush=True)

    elapsed = time.monotonic() - started
    text = report.markdown(rows, environment, args.quick, elapsed)
    print("\n" + text)
    out = args.out or (None if args.quick else Path(__file__).parent / "RESULTS.md")
    if out is not None:
        report.write(out, text)
    if args.json is not None:
        report.write(args.json, json.dumps([r.__dict__ for r in rows], default=str, indent=1))
    if lock is not None:
        lock.close()  # the next full run may start
    return 0 if all(not r.data.get("crashed") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
