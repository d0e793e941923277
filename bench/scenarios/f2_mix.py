"""F2 realistic mix: every user connected, status changes and typing on a schedule.

Users sit on a ring, each partnered with the `contacts` nearest; conversations are three
neighbours. Every user holds one socket (device `bench`) and sends an application ping
every `heartbeat` seconds. After a settle and an idle baseline (server CPU with only the
sockets and their pings), the driver POSTs, open loop: `status_rate` status changes (each
user in turn, from the socket's device, alternately away and online, so every POST
changes the aggregate) and `typing_rate` typing POSTs (true, then false a second later).
Every socket's frames are matched to the changes the server made (`bench.accounting`):
delivered, coalesced (allowed), lost, unexpected.
"""

from __future__ import annotations

import random
import time

from .. import accounting, directories, machine, profiling, servers, timeline, tokens
from ..drivers import percentiles
from ..workers import Worker
from . import Context, Row

DEVICE = "bench"
P99_DELIVERY, P99_POST = 0.100, 0.050
TYPING_TTL = 5.0  # the service's default (SPEC §6); expiries are modelled with it


def schedule(n: int, status_rate: float, typing_rate: float, seconds: float,
             seed: int = 5) -> list[tuple]:
    """(offset, kind, user, conversation, value): users in a shuffled cycle, away then online."""
    rng = random.Random(seed)
    order = rng.sample(range(1, n + 1), n)
    doc = directories.mix(n, 0)
    participants = [(uid, c["id"]) for c in doc["conversations"] for uid in c["participants"]]
    rng.shuffle(participants)
    events = []
    for k in range(int(status_rate * seconds)):
        status = "away" if (k // n) % 2 == 0 else "online"
        events.append((k / status_rate, "status", order[k % n], 0, status))
    pair_rate = typing_rate / 2
    for k in range(int(pair_rate * seconds)):
        uid, conv = participants[k % len(participants)]
        events.append((k / pair_rate, "typing", uid, conv, True))
        events.append((k / pair_rate + 1.0, "typing", uid, conv, False))
    return events


def account(posts: list, got: dict, n: int, contacts: int, members: dict,
            window: tuple[float, float], quiet: float = 0.0) -> dict[str, accounting.Tally]:
    """Presence and typing tallies of one recorded window (see `bench.accounting`).

    A user's own socket sees its presence changes too (a user is visible to itself); its
    own typing it does not (SPEC §8). A socket that failed to connect or was closed is no
    watcher (it is counted once, as a server error, not again per frame it missed).
    """
    absent = set(got.get("absent", ()))
    status = [accounting.Post(p[1], p[3], p[4], p[5]) for p in posts if p[0] == "status"]
    typing = [accounting.Post((p[1], p[2]), p[3], p[4], p[5]) for p in posts if p[0] == "typing"]
    frames: dict = {}
    for watcher, uid, value, t in got["presence"]:
        if watcher not in absent:
            frames.setdefault((watcher, uid), []).append((t, value))
    presence = accounting.account(
        accounting.presence_changes(status), frames,
        lambda uid: [w for w in (uid, *directories.ring_contacts(uid, n, contacts))
                     if w not in absent], window, quiet,
        accounting.uncertain_keys(status))
    frames = {}
    for watcher, uid, conv, value, t in got["typing"]:
        if watcher not in absent:
            frames.setdefault((watcher, (uid, conv)), []).append((t, value))
    typed = accounting.account(
        accounting.typing_changes(typing, TYPING_TTL), frames,
        lambda key: [w for w in members[key[1]] if w != key[0] and w not in absent],
        window, quiet,
        accounting.uncertain_keys(typing))
    return {"presence": presence, "typing": typed}


def run(ctx: Context) -> Row:
    s = ctx.scale
    n, contacts = s.f2_users, s.f2_contacts
    events = schedule(n, s.f2_status_rate, s.f2_typing_rate, s.f2_seconds)
    with MixRun(ctx, "f2", n, contacts, s.f2_heartbeat) as mix:
        idle = mix.baseline(2.0 if s.quick else 10.0)
        mix.start_recording()
        driven = mix.drive(events, s.f2_seconds, profile="f2")
        got = mix.stop_recording(drain=TYPING_TTL + 3.0)
        closing = mix.closing()
    window = (mix.recording_from, mix.recording_to - 3.0)
    tallies = account(driven["posts"], got, n, contacts, mix.members, window)
    trace = timeline.build(driven, tallies, mix.samples, got["trace"], mix.probe_events())
    timeline.write(trace, ctx.workdir / "f2-trace.csv")
    ctx.say("F2 latency over time (worst seconds):\n" + timeline.worst(trace))
    if mix.probe_events():
        ctx.say("F2 tail candidates:\n" + timeline.candidates(trace))
    return row("F2 realistic mix", n, contacts, driven, tallies, idle, mix, closing)


def row(name: str, n: int, contacts: int, driven: dict, tallies: dict, idle: float,
        mix: MixRun, closing: dict) -> Row:
    posts = driven["posts"]
    answered = [p for p in posts if p[5]]
    codes = code_counts(posts)
    server_errors = sum(1 for p in posts if not accounting.outcome_known(p[5]) or p[5] == 0)
    server_errors += closing["failed"] + closing["bad"] + closing["closed"]
    both = accounting.Tally().add(tallies["presence"]).add(tallies["typing"])
    lat = percentiles([lag for _, lag in both.latencies])
    post = percentiles([p[6] for p in answered])
    cpu = mix.cpu_per_op(idle, driven, len(answered), both.delivered)
    met = (lat["p99"] is not None and lat["p99"] < P99_DELIVERY and post["p99"] is not None
           and post["p99"] < P99_POST and server_errors == 0 and both.lost == 0
           and both.unexpected == 0 and driven["skipped"] == 0)
    kinds = {k: percentiles([lag for _, lag in t.latencies]) for k, t in tallies.items()}
    return Row(
        name,
        f"delivery p99 {_ms(lat['p99'])}, POST p99 {_ms(post['p99'])}, lost {both.lost}, "
        f"server errors {server_errors}",
        f"p99 < {P99_DELIVERY * 1000:.0f} ms / POST < {P99_POST * 1000:.0f} ms, "
        "0 errors, 0 lost",
        met,
        f"{n} users x {contacts} contacts, {len(answered) / driven['seconds']:.0f} POST/s "
        f"answered for {driven['seconds']:.0f} s; presence p50/p99 "
        f"{_ms(kinds['presence']['p50'])}/{_ms(kinds['presence']['p99'])}, typing p50/p99 "
        f"{_ms(kinds['typing']['p50'])}/{_ms(kinds['typing']['p99'])}; POST p50 "
        f"{_ms(post['p50'])}; codes {codes}; frames: delivered {both.delivered}, coalesced "
        f"{both.coalesced} (allowed; view lag p99 {_ms(percentiles(both.coalesce_lags)['p99'])})"
        f", lost {both.lost}, unexpected {both.unexpected}, typing expiries {both.expiries}, "
        f"uncertain keys {both.uncertain}; driver: skipped {driven['skipped']} (in-flight "
        f"cap), late p99 {_ms(driven['late']['p99'])}; server CPU {cpu['busy']:.0%} "
        f"(idle {idle:.0%}), waited for a CPU {driven['cpu_wait']:.0%} of the time (other "
        f"processes on its core); {cpu['post_us']:,.0f} us/POST, {cpu['delivery_us']:,.1f} "
        f"us/delivery; connect {mix.connected['seconds']:.0f} s; recorded until "
        f"{mix.drained:.0f} s after the driver finished",
        {"errors": server_errors, "lost": both.lost, "unexpected": both.unexpected,
         "coalesced": both.coalesced, "delivered": both.delivered,
         "skipped": driven["skipped"], "late_p99": driven["late"]["p99"],
         "p99_delivery": lat["p99"], "p99_post": post["p99"], "codes": codes,
         "server_cpu": cpu["busy"], "idle_cpu": idle, "cpu_per_op": cpu["per_op"],
         "cpu_wait": driven["cpu_wait"],
         "rss_mb": mix.rss_mb},
    )


def code_counts(posts: list) -> dict[str, int]:
    codes: dict[str, int] = {}
    for p in posts:
        key = str(p[5]) if p[5] else "no answer"
        codes[key] = codes.get(key, 0) + 1
    return codes


class MixRun:
    """The F2/F7 rig: directory, service, subscriber pool and driver, stopped on exit."""

    def __init__(self, ctx: Context, name: str, n: int, contacts: int, heartbeat: float,
                 store_url: str | None = None) -> None:
        self.ctx, self.name = ctx, name
        doc = directories.mix(n, contacts)
        self.members = {c["id"]: c["participants"] for c in doc["conversations"]}
        self.url = store_url or f"sqlite:///{ctx.workdir / f'{name}.db'}"
        self.log = ctx.workdir / f"{name}.log"
        servers.import_directory(self.url, directories.write(doc, ctx.workdir / f"{name}.json"),
                                 self.log)
        self.probe = ctx.workdir / f"{name}-probe.csv" if ctx.profile_dir else None
        self.service = servers.Service(self.url, self.log, probe=self.probe)
        self.pool = Worker("bench.pool.SubscriberPool", host=self.service.host,
                           port=self.service.port, mode="record", heartbeat=heartbeat,
                           subscribers=[(u, tokens.subscribe_path(u, DEVICE))
                                        for u in range(1, n + 1)])
        self.driver = Worker("bench.drivers.Mix", host=self.service.host,
                             port=self.service.port, secret=tokens.SECRET)
        self.n, self.samples = n, []
        self.recording_from = self.recording_to = self.drained = 0.0

    def __enter__(self) -> MixRun:
        self.ctx.say(f"{self.name.upper()}: connecting {self.n} subscribers")
        self.connected = self.pool.call("connect", wait=180, concurrency=100, timeout=120)
        self.ctx.say(f"{self.name.upper()}: {self.connected['connected']} connected in "
                     f"{self.connected['seconds']:.1f} s")
        self.rss_mb = self.service.rss() / 2**20
        return self

    def __exit__(self, *exc) -> None:
        self.pool.stop()
        self.driver.stop()
        self.service.stop()

    def baseline(self, seconds: float) -> float:
        """Server CPU (fraction of a core) with only the sockets and their app pings."""
        time.sleep(seconds / 2)  # connect-time pushes settle first
        cpu0, t0 = self.service.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        return (self.service.cpu_seconds() - cpu0) / (time.monotonic() - t0)

    def start_recording(self) -> None:
        self.recording_from = self.pool.call("record", on=True)

    def stop_recording(self, drain: float) -> dict:
        self.drained = self.wait_quiet(drain)
        self.recording_to = self.pool.call("record", on=False)
        return self.pool.call("results", wait=300)

    def wait_quiet(self, drain: float, quiet: float = 10.0, bound: float = 120.0) -> float:
        """Wait `drain` seconds (typing expiries land), then until no event has arrived for
        `quiet` seconds, at most `bound` more: a change with no frame by then is lost.
        Returns the seconds waited."""
        time.sleep(drain)
        last, still, started = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - still < quiet and time.monotonic() - started < bound:
            now = self.pool.call("recorded")
            if now != last:
                last, still = now, time.monotonic()
            time.sleep(0.5)
        return drain + time.monotonic() - started

    def closing(self) -> dict:
        """Socket-level failures over the run (counted once, at the end)."""
        got = self.pool.call("results", wait=120)
        return {"failed": self.connected["failed"], "bad": got["counts"].get("bad", 0),
                "closed": self.n - self.connected["failed"] - got["open"]}

    def drive(self, events: list, seconds: float, profile: str | None = None) -> dict:
        """Run the schedule; sample server CPU each second; py-spy it when profiling."""
        self.driver.send("run", schedule=events, device=DEVICE)
        out = self.ctx.profile_dir / f"{profile}.txt" if self.ctx.profile_dir and profile else None
        sampler = profiling.start(self.service.ps.pid, seconds, out) if out else None
        cpu0, wait0 = self.service.cpu_seconds(), self.cpu_wait()
        while not self.driver.conn.poll(1.0):
            self.samples.append((time.monotonic(), self.service.cpu_seconds()))
            if time.monotonic() - self.samples[0][0] > seconds + 600:
                raise RuntimeError("driver did not finish in time")
        driven = self.driver.recv(wait=5)
        driven["cpu_seconds"] = self.service.cpu_seconds() - cpu0
        driven["cpu_wait"] = (self.cpu_wait() - wait0) / driven["seconds"]
        if out:
            self.ctx.say(f"{profile.upper()} profile:\n" + profiling.finish(sampler, out, top=15))
        return driven

    def cpu_wait(self) -> float:
        """Seconds the server's main thread has spent runnable but off a CPU."""
        return machine.schedstat(self.service.ps.pid)[1]

    def cpu_per_op(self, idle: float, driven: dict, posts: int, delivered: int) -> dict:
        """All server CPU above the idle baseline, per POST answered and per frame delivered.

        Frames are counted where they arrived (the subscribers), not from `/metrics`,
        which a saturated server may not answer in time.
        """
        busy = driven["cpu_seconds"] / driven["seconds"]
        extra = max(0.0, driven["cpu_seconds"] - idle * driven["seconds"])
        post_us = 1e6 * extra / max(1, posts)
        delivery_us = 1e6 * extra / max(1, delivered)
        idle_us = 1e6 * idle / max(1, self.n)
        return {"busy": busy, "post_us": post_us, "delivery_us": delivery_us,
                "per_op": {"POST (incl. fan-out)": post_us, "delivery": delivery_us,
                           "idle socket-second": idle_us}}

    def probe_events(self) -> list[list[str]]:
        if self.probe is None or not self.probe.exists():
            return []
        return [line.split(",") for line in self.probe.read_text().splitlines() if line]


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"
