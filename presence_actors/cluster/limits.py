"""Rate limits that hold cluster-wide: atomic Lua scripts on the cluster's Redis.

A client whose requests are spread over several nodes must meet the same limits as on one
node (SPEC §5, §6, §8): the 5-second status window per (user, device), the typing token
bucket per (user, conversation), the open-socket cap per user. Each check is one script
run (one round trip; Redis's own clock, so the nodes' clocks do not matter).

Every call is bounded by `timeout` (tens of milliseconds). `None` means Redis did not
answer in time, or the bus is down: the caller applies the node's own rule instead (the
actors' rules already implement every limit locally), so an outage degrades the limits to
per node and never blocks or fails a request.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import trio

from ..timing import Timing
from .redis_bus import RedisBus

log = logging.getLogger("presence.cluster")

STATUS_WINDOW = """
-- KEYS[1]: the window of one (user, device). ARGV[1]: interval in ms; ARGV[2]: '1' offline.
-- Returns 0 when accepted (the window restarts now), else the ms until it closes.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
if ARGV[2] ~= '1' then
  local last = tonumber(redis.call('GET', KEYS[1]))
  if last and now < last + interval then return last + interval - now end
end
redis.call('SET', KEYS[1], now, 'PX', interval)
return 0
"""

TYPING_BUCKET = """
-- KEYS[1]: the bucket of one (user, conversation). ARGV[1]: burst; ARGV[2]: tokens per s.
-- Returns 0 when a token was taken, else the ms until one is there.
local t = redis.call('TIME')
local now = t[1] + t[2] / 1000000
local burst, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens < 1 then return math.ceil((1 - tokens) / rate * 1000) end
tokens = tokens - 1
local function text(x) return string.format('%.6f', x) end
redis.call('HSET', KEYS[1], 'tokens', text(tokens), 'at', text(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return 0
"""

OPEN_SOCKETS = """
-- KEYS[1]: open sockets of one user, a hash node -> count. ARGV[1]: this node; ARGV[2]:
-- '1' to open, '-1' to close; ARGV[3]: the cap; ARGV[4...]: the nodes that are up.
-- Counts of nodes not up are dropped. Returns 0 when done, -1 when the cap is reached.
if ARGV[2] == '1' then
  local up = {}
  for i = 4, #ARGV do up[ARGV[i]] = true end
  local total = 0
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    if up[fields[i]] then total = total + tonumber(fields[i + 1])
    else redis.call('HDEL', KEYS[1], fields[i]) end
  end
  if total >= tonumber(ARGV[3]) then return -1 end
  redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
else
  if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
end
redis.call('EXPIRE', KEYS[1], 86400)
return 0
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    admitted: bool
    retry_after: int = 0  # whole seconds (at least 1) when refused


ADMITTED = Verdict(True)


@dataclass(frozen=True, slots=True)
class LimiterStatistics:
    checks: int
    refused: int
    fallbacks: int  # answered by the node's own rule: Redis down or too slow


class ClusterLimiter:
    def __init__(self, bus: RedisBus, timing: Timing, timeout: float = 0.05) -> None:
        self.bus = bus
        self.timing = timing
        self.timeout = timeout
        self._scripts: dict[str, object] = {}
        self._client = None
        self._checks = self._refused = self._fallbacks = 0

    async def admit_status(self, user_id: int, device_id: str, offline: bool) -> Verdict | None:
        """The status window of (user, device); `offline` is always admitted but restarts it.
        With the window off (`status_min_interval` 0) there is nothing to count: no call."""
        interval = round(self.timing.status_min_interval * 1000)
        if interval <= 0:
            return ADMITTED
        key = self.bus.target.key("limit", "status", user_id, device_id)
        return await self._check(STATUS_WINDOW, key, interval, "1" if offline else "0")

    async def admit_typing(self, user_id: int, conversation_id: int) -> Verdict | None:
        key = self.bus.target.key("limit", "typing", user_id, conversation_id)
        timing = self.timing
        return await self._check(TYPING_BUCKET, key, timing.typing_burst, timing.typing_rate)

    async def admit_socket(self, user_id: int, nodes_up: frozenset[str]) -> Verdict | None:
        """Count one more socket of this user on this node, unless the user has the maximum
        open on the nodes that are up. Admitted sockets must be released (`release_socket`)."""
        key = self.bus.target.key("sockets", user_id)
        cap = self.timing.max_sockets_per_user
        return await self._check(OPEN_SOCKETS, key, self.bus.node, "1", cap, *sorted(nodes_up))

    async def release_socket(self, user_id: int) -> None:
        key = self.bus.target.key("sockets", user_id)
        await self._check(OPEN_SOCKETS, key, self.bus.node, "-1", 0)

    def statistics(self) -> LimiterStatistics:
        return LimiterStatistics(self._checks, self._refused, self._fallbacks)

    async def _check(self, source: str, key: str, *args: object) -> Verdict | None:
        self._checks += 1
        client = self.bus.client
        if client is None:
            self._fallbacks += 1
            return None
        with trio.move_on_after(self.timeout):
            try:
                wait_ms = await self._script(client, source)(keys=[key], args=list(args))
            except Exception as error:  # Redis trouble of any kind: the node decides alone
                log.debug("cluster limit check failed: %r", error)
            else:
                return self._verdict(int(wait_ms))
        self._fallbacks += 1
        return None

    def _verdict(self, wait_ms: int) -> Verdict:
        if wait_ms == 0:
            return ADMITTED
        self._refused += 1
        if wait_ms < 0:  # the socket cap: no time makes room, one closing does
            return Verdict(False, 1)
        return Verdict(False, max(1, math.ceil(wait_ms / 1000)))

    def _script(self, client, source: str):
        """Scripts are bound to a client; a new connection gets them anew (EVALSHA, with
        EVAL the first time Redis has not seen them)."""
        if client is not self._client:
            self._client, self._scripts = client, {}
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = client.register_script(source)
        return script
