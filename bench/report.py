"""The results table: printed, and written as Markdown with the machine it was measured on."""

from __future__ import annotations

from pathlib import Path

from .scenarios import Row

HEADER = ("Scenario", "Result", "Target", "Met", "Server CPU per op", "Details")


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "**NO**", None: "n/a"}[met]


def cpu_per_op(row: Row) -> str:
    """Server CPU microseconds per operation: steadier than wall times on a shared machine.

    A scenario puts `{"operation": microseconds}` in `data["cpu_per_op"]`; F1's is derived
    from its server CPU and delivery rate, for the service and the reference alike.
    """
    ops = dict(row.data.get("cpu_per_op") or {})
    for side, name in (("service", "delivery"), ("reference", "delivery (reference)")):
        numbers = row.data.get(side)
        if not ops.get(name) and isinstance(numbers, dict) and numbers.get("rate"):
            ops[name] = 1e6 * numbers.get("server_cpu", 0.0) / numbers["rate"]
    return "; ".join(f"{v:,.1f} us/{k}" if v < 100 else f"{v:,.0f} us/{k}"
                     for k, v in ops.items()) or "-"


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        cells = (row.scenario, row.result, row.target, verdict(row.met), cpu_per_op(row),
                 row.details)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def markdown(rows: list[Row], environment: list[str], quick: bool, seconds: float) -> str:
    kind = "quick run (scaled down; numbers are not comparable)" if quick else "full run"
    parts = [
        "# Benchmark results",
        "",
        f"Written by `python -m bench` ({kind}, {seconds:.0f} s). See docs/benchmarks.md for",
        "what each scenario does and how it is measured. Numbers from a shared 2-core VM:",
        "compare runs on one machine, not across machines.",
        "",
        *[f"- {line}" for line in environment],
        "",
        table(rows),
        "",
    ]
    return "\n".join(parts)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
