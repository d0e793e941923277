"""What a subscriber should have received, and what it did: delivered, coalesced, lost.

The spec lets a lagging socket skip states (SPEC §8: "a connection's outbox coalesces by
key, latest presence per user, latest typing per user and conversation"), so "an event
never arrived" is not by itself a loss. The bench therefore models the *changes* the
server made to each key from the POSTs it accepted, and matches every socket's frames of
that key against them in order:

- **delivered**: the change's own frame arrived (its latency is receive - send time).
- **coalesced**: its frame never came, but a frame of a *later* change of the same key did,
  so the socket went past it to a newer state. Allowed; reported apart, with how long the
  socket's view of the key lagged (`coalesce_lags`: the superseding frame's arrival minus
  the skipped change's send time).
- **lost**: no frame of its key came after it at all, so the socket's last view of the key
  is older than the change (a wrong final state, or a missed toggle-and-back). This is the
  loss the target "nothing lost" means.
- **unexpected** frames match no change: a frame for a key the watcher may not see, a
  duplicate, or a value the server never had (counted per frame).

Changes alternate in value per key (each is a transition), which makes the in-order match
unambiguous. Typing expiry is modelled (a `true` whose `false` did not land expires
`ttl` later, pushing `false`), and a key with a POST of unknown outcome (a 5xx or a
broken connection: the change may or may not have happened) is left out of the counts
and reported as `uncertain`, never guessed either way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

POST, EXPIRY = "post", "expiry"


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One transition of a key's state as the server made it; `t` is the send time."""

    t: float
    value: object
    origin: str = POST  # POST or EXPIRY (an estimate: `ttl` after the last `true` sent)


@dataclasses.dataclass(frozen=True, slots=True)
class Post:
    """One POST the driver sent: `code` 0 when no HTTP answer came back."""

    key: Hashable
    value: object
    t: float
    code: int


@dataclasses.dataclass
class Tally:
    delivered: int = 0
    coalesced: int = 0
    lost: int = 0
    unexpected: int = 0
    expiries: int = 0  # delivered changes that were server-side typing expiries
    uncertain: int = 0  # keys left out: a POST of unknown outcome
    excluded: int = 0  # keys left out: changed just before the counting window
    latencies: list[tuple[float, float]] = dataclasses.field(default_factory=list)  # (t, lag)
    coalesce_lags: list[float] = dataclasses.field(default_factory=list)
    lost_at: list[float] = dataclasses.field(default_factory=list)  # send times of lost changes

    def add(self, other: Tally) -> Tally:
        """Fold `other` in, in place (lists are extended, not copied: a window has ~10^5)."""
        for f in dataclasses.fields(self):
            mine = getattr(self, f.name)
            if isinstance(mine, list):
                mine.extend(getattr(other, f.name))
            else:
                setattr(self, f.name, mine + getattr(other, f.name))
        return self


def outcome_known(code: int) -> bool:
    """200 applied the change, 4xx refused it (nothing changed); anything else: unknown."""
    return code == 200 or 400 <= code < 500


def presence_changes(posts: Iterable[Post], initial: object = "online") -> dict:
    """Aggregate-status transitions per user, when each user's POSTs are its only device's."""
    return _transitions(posts, lambda state, value: value, initial)


def typing_changes(posts: Iterable[Post], ttl: float) -> dict:
    """Typing transitions per (user, conversation), with `ttl` expiry of an unrefreshed true."""
    changes: dict[Hashable, list[Change]] = {}
    for key, accepted in _accepted_by_key(posts).items():
        out, expires = [], None
        for post in accepted:
            if expires is not None and expires <= post.t:
                out.append(Change(expires, False, EXPIRY))
                expires = None
            if post.value:
                if expires is None:
                    out.append(Change(post.t, True))
                expires = post.t + ttl
            elif expires is not None:
                out.append(Change(post.t, False))
                expires = None
        if expires is not None:
            out.append(Change(expires, False, EXPIRY))
        changes[key] = out
    return changes


def uncertain_keys(posts: Iterable[Post]) -> set:
    return {p.key for p in posts if not outcome_known(p.code)}


def account(
    changes: Mapping[Hashable, Sequence[Change]],
    frames: Mapping[tuple[int, Hashable], Sequence[tuple[float, object]]],
    watchers: Callable[[Hashable], Iterable[int]],
    window: tuple[float, float],
    quiet: float = 0.0,
    uncertain: set | frozenset = frozenset(),
) -> Tally:
    """Match every watcher's frames of every key against the key's changes.

    `frames[(watcher, key)]` holds (receive time, value) in arrival order, recorded from
    `window[0]` on. Changes sent in `window` are counted; a key that also changed in the
    `quiet` seconds before the window is left out (its earlier frames were not recorded,
    so they cannot be told apart), as is every key in `uncertain`.
    """
    start = window[0]
    tally, skip = Tally(), set(uncertain)
    tally.uncertain = len(skip & set(changes))
    entitled: set[tuple[int, Hashable]] = set()
    for key, key_changes in changes.items():
        if key in skip:
            continue
        if any(start - quiet <= c.t < start for c in key_changes):
            tally.excluded += 1
            skip.add(key)
            continue
        live = [c for c in key_changes if c.t >= start]
        for watcher in watchers(key):
            entitled.add((watcher, key))
            tally.add(match(live, frames.get((watcher, key), ()), window))
    for (watcher, key), got in frames.items():
        if key not in skip and (watcher, key) not in entitled:
            tally.unexpected += len(got)  # a key this watcher may not see, or never changed
    return tally


def match(changes: Sequence[Change], got: Sequence[tuple[float, object]],
          window: tuple[float, float]) -> Tally:
    """One watcher, one key: frames in arrival order against the changes in order."""
    tally, i = Tally(), 0
    counted = [window[0] <= c.t <= window[1] for c in changes]
    for received, value in got:
        j = next((k for k in range(i, len(changes))
                  if changes[k].value == value and changes[k].t <= received), None)
        if j is None:
            tally.unexpected += 1
            continue
        for k in range(i, j):
            if counted[k]:
                tally.coalesced += 1
                tally.coalesce_lags.append(received - changes[k].t)
        if counted[j]:
            _delivered(tally, changes[j], received)
        i = j + 1
    tally.lost_at += [c.t for c, n in zip(changes[i:], counted[i:], strict=True) if n]
    tally.lost = len(tally.lost_at)
    return tally


def _delivered(tally: Tally, change: Change, received: float) -> None:
    tally.delivered += 1
    if change.origin == EXPIRY:
        tally.expiries += 1  # its send time is an estimate: no latency from it
    else:
        tally.latencies.append((change.t, received - change.t))


def _accepted_by_key(posts: Iterable[Post]) -> dict[Hashable, list[Post]]:
    by_key: dict[Hashable, list[Post]] = {}
    for post in sorted(posts, key=lambda p: p.t):
        by_key.setdefault(post.key, [])
        if post.code == 200:
            by_key[post.key].append(post)
    return by_key


def _transitions(posts: Iterable[Post], step, initial: object) -> dict:
    changes: dict[Hashable, list[Change]] = {}
    for key, accepted in _accepted_by_key(posts).items():
        state, out = initial, []
        for post in accepted:
            new = step(state, post.value)
            if new != state:
                out.append(Change(post.t, new))
                state = new
        changes[key] = out
    return changes
