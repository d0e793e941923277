"""A token bucket as an immutable value: bursts of `burst` requests, `rate` per second
sustained. A missing bucket (None) is a full one, so a user who is not using it costs
nothing."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import RateLimited


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: float

    def level(self, now: float, burst: int, rate: float) -> float:
        return min(float(burst), self.tokens + (now - self.at) * rate)

    def full_at(self, burst: int, rate: float) -> float:
        return self.at + (burst - self.tokens) / rate


def take(bucket: Bucket | None, now: float, burst: int, rate: float) -> Bucket:
    """The bucket with one token taken.

    Raises:
        RateLimited: less than one token left (`retry_after`: until there is one).
    """
    level = float(burst) if bucket is None else bucket.level(now, burst, rate)
    if level < 1.0:
        raise RateLimited(max(1, math.ceil((1.0 - level) / rate)))
    return Bucket(level - 1.0, now)
