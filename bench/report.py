"""The results table: printed, and written as Markdown with the machine it was measured on."""

from __future__ import annotations

from pathlib import Path

from .scenarios import Row

HEADER = ("Scenario", "Result", "Target", "Met", "Details")


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "**NO**", None: "n/a"}[met]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        cells = (row.scenario, row.result, row.target, verdict(row.met), row.details)
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
