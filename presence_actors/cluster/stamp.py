"""Write stamps: which of two writes of the same thing is the later one, on any node.

A `Stamp` orders writes of one register (a device, a typer, a node's socket count) across
the cluster: last writer wins. Wall clocks of different machines disagree, so a stamp is
a hybrid logical clock: a node writing a register never stamps it earlier than the stamp
it replaces (`Stamp.after`), so a write that has seen another always wins over it, however
far behind the writer's clock is. Concurrent writes (neither saw the other) are ordered by
time, then by the writer's node id: arbitrary, but the same on every node.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Stamp:
    time: float  # wall-clock epoch seconds, never behind the stamp this write replaces
    count: int  # orders writes within one `time` (a writer whose clock is behind)
    node: str  # the writing node: breaks ties, and says whose write it was

    @staticmethod
    def after(previous: Stamp | None, now: float, node: str) -> Stamp:
        """The stamp of a write at `now` on `node` that replaces `previous` (if any)."""
        if previous is None or now > previous.time:
            return Stamp(now, 0, node)
        return Stamp(previous.time, previous.count + 1, node)

    def as_list(self) -> list:
        return [self.time, self.count, self.node]
