"""Scenarios F1-F5 and the F7 soak. Each `run(ctx)` returns one `Row` (or a failed row on error)."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class Scale:
    """Sizes of every scenario; `quick()` shrinks them to a few seconds each."""

    f1_subscribers: int = 1000
    f1_seconds: float = 10.0
    f2_users: int = 10_000
    f2_contacts: int = 50
    f2_status_rate: float = 100.0
    f2_typing_rate: float = 300.0
    f2_seconds: float = 60.0
    f2_heartbeat: float = 30.0
    f3_sockets: int = 20_000
    f3_seconds: float = 60.0
    f4_users: int = 10_000
    f4_rate: float = 5000.0
    f4_seconds: float = 60.0
    f5_actors: int = 100_000
    f7_users: int = 5_000
    f7_contacts: int = 50
    f7_status_rate: float = 50.0  # F2's rates per user: 0.01 status, 0.03 typing POST/s
    f7_typing_rate: float = 150.0
    f7_heartbeat: float = 30.0
    f7_minutes: float = 30.0
    f7_window: float = 120.0  # the start and end windows compared, seconds
    quick: bool = False

    @classmethod
    def quick_scale(cls) -> Scale:
        return cls(
            f1_subscribers=50, f1_seconds=2.0, f2_users=300, f2_contacts=10,
            f2_status_rate=20.0, f2_typing_rate=40.0, f2_seconds=4.0, f2_heartbeat=2.0,
            f3_sockets=200, f3_seconds=3.0, f4_users=200, f4_rate=200.0, f4_seconds=4.0,
            f5_actors=2000, f7_users=200, f7_contacts=10, f7_status_rate=20.0,
            f7_typing_rate=40.0, f7_heartbeat=2.0, f7_minutes=0.75, f7_window=5.0, quick=True,
        )


@dataclasses.dataclass
class Row:
    scenario: str
    result: str  # headline number with unit
    target: str
    met: bool | None  # None: not measured
    details: str = ""
    data: dict = dataclasses.field(default_factory=dict)  # raw numbers, for JSON/tests


@dataclasses.dataclass
class Context:
    scale: Scale
    workdir: Path
    log: list[str] = dataclasses.field(default_factory=list)
    reference_rate: float | None = None
    profile_dir: Path | None = None  # py-spy the server in measured windows when set

    def say(self, text: str) -> None:
        print(f"  {text}", flush=True)
        self.log.append(text)
