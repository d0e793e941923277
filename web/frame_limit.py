"""How many frames one WebSocket may send (issue 8.18): a token bucket, pure, `now` passed in.

A socket may send `burst` frames at once and `rate` a second sustained; a frame over that
is refused (an error frame, not processed). Refusals are strikes that fade at the same
rate; a socket that collects more than `burst` of them — it kept sending at full speed
while being refused — is abusing the node and is closed with 1008. A client that bursts
once and then behaves never is: one socket at 11,400 frames/s pinned a core before this.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"  # answer with a rate_limited error frame
    CLOSE = "close"  # sustained abuse: close with 1008


@dataclass(frozen=True, slots=True)
class FrameBudget:
    tokens: float
    strikes: float
    at: float  # when `tokens` and `strikes` were last brought up to date


def fresh_budget(now: float, burst: int) -> FrameBudget:
    return FrameBudget(float(burst), 0.0, now)


def spend(budget: FrameBudget, now: float, rate: float, burst: int) -> tuple[FrameBudget, Verdict]:
    """Charge one frame received at `now`; `rate` 0 means no limit."""
    if rate <= 0:
        return budget, Verdict.ACCEPT
    refill = max(0.0, now - budget.at) * rate
    tokens = min(float(burst), budget.tokens + refill)
    strikes = max(0.0, budget.strikes - refill)
    if tokens >= 1.0:
        return FrameBudget(tokens - 1.0, strikes, now), Verdict.ACCEPT
    strikes += 1.0
    verdict = Verdict.CLOSE if strikes > burst else Verdict.REFUSE
    return FrameBudget(tokens, strikes, now), verdict
