"""F2 realistic mix: every user connected, status changes and typing on a schedule.

Users sit on a ring, each partnered with the `contacts` nearest; conversations are three
neighbours. Every user holds one socket (device `bench`) and sends an application ping
every `heartbeat` seconds. The driver POSTs, open loop: `status_rate` users go away (each
user at most once, from the socket's device, so every POST changes the aggregate) and
`typing_rate` typing POSTs (true, then false a second later). Each expected delivery is
matched to its POST by key and order; latency = receive time - send time.
"""

from __future__ import annotations

import collections
import random

from .. import directories, profiling, servers, tokens
from ..drivers import percentiles
from ..workers import Worker
from . import Context, Row

DEVICE = "bench"
P99_DELIVERY, P99_POST = 0.100, 0.050


def plan(n: int, status_rate: float, typing_rate: float, seconds: float, seed: int = 5):
    rng = random.Random(seed)
    changes = rng.sample(range(1, n + 1), min(n, int(status_rate * seconds)))
    doc = directories.mix(n, 0)
    participants = [(uid, c["id"]) for c in doc["conversations"] for uid in c["participants"]]
    rng.shuffle(participants)
    pairs = int(typing_rate / 2 * seconds)
    typers = [participants[k % len(participants)] for k in range(pairs)]
    return changes, typers


def presence_latencies(records, sent: dict[int, float], n: int, contacts: int):
    received = {(watcher, uid): t for watcher, uid, status, t in records if status == "away"}
    latencies, lost = [], 0
    for uid, t_sent in sent.items():
        for watcher in directories.ring_contacts(uid, n, contacts):
            t = received.get((watcher, uid))
            if t is None:
                lost += 1
            else:
                latencies.append(t - t_sent)
    return latencies, lost


def typing_latencies(records, sent, members: dict[int, list[int]]):
    sends = collections.defaultdict(list)
    for uid, conv, flag, t, status in sent:
        if status == 200:
            sends[(uid, conv, flag)].append(t)
    got = collections.defaultdict(list)
    for watcher, uid, conv, flag, t in records:
        got[(watcher, uid, conv, flag)].append(t)
    latencies, lost, extra = [], 0, 0
    for (uid, conv, flag), times in sends.items():
        times.sort()
        for watcher in members[conv]:
            if watcher == uid:
                continue
            seen = sorted(got.pop((watcher, uid, conv, flag), []))
            latencies += [r - s for s, r in zip(times, seen, strict=False)]
            lost += max(0, len(times) - len(seen))
            extra += max(0, len(seen) - len(times))
    return latencies, lost, extra + sum(len(v) for v in got.values())


def run(ctx: Context) -> Row:
    s = ctx.scale
    n, contacts = s.f2_users, s.f2_contacts
    doc = directories.mix(n, contacts)
    members = {c["id"]: c["participants"] for c in doc["conversations"]}
    url = f"sqlite:///{ctx.workdir / 'f2.db'}"
    log = ctx.workdir / "f2.log"
    servers.import_directory(url, directories.write(doc, ctx.workdir / "f2.json"), log)
    changes, typers = plan(n, s.f2_status_rate, s.f2_typing_rate, s.f2_seconds)
    service = servers.Service(url, log)
    pool = Worker("bench.pool.SubscriberPool", host=service.host, port=service.port,
                  subscribers=[(u, tokens.subscribe_path(u, DEVICE)) for u in range(1, n + 1)],
                  mode="record", heartbeat=s.f2_heartbeat)
    driver = Worker("bench.drivers.Mix", host=service.host, port=service.port,
                    secret=tokens.SECRET)
    try:
        ctx.say(f"F2: connecting {n} subscribers")
        connected = pool.call("connect", wait=180, concurrency=100, timeout=120)
        ctx.say(f"F2: {connected['connected']} connected in {connected['seconds']:.1f} s; driving")
        cpu0, rss0 = service.cpu_seconds(), service.rss()
        driver.send("run", changes=changes, typers=typers, status_rate=s.f2_status_rate,
                    typing_rate=s.f2_typing_rate, duration=s.f2_seconds, device=DEVICE)
        profile = ctx.profile_dir / "f2.txt" if ctx.profile_dir else None
        sampler = profiling.start(service.ps.pid, s.f2_seconds, profile) if profile else None
        driven = driver.recv(wait=s.f2_seconds + 120)
        if profile:
            ctx.say("F2 profile:\n" + profiling.finish(sampler, profile, top=15))
        cpu = (service.cpu_seconds() - cpu0) / driven["seconds"]
        pool.call("measure", warmup=0, duration=2.0)  # let the last deliveries land
        got = pool.call("results", wait=120)
    finally:
        pool.stop()
        driver.stop()
        service.stop()
    p_lat, p_lost = presence_latencies(got["presence"], driven["status_sent"], n, contacts)
    t_lat, t_lost, t_extra = typing_latencies(got["typing"], driven["typing_sent"], members)
    post = percentiles(driven["latencies"])
    both = percentiles(p_lat + t_lat)
    codes = driven["codes"]
    errors = (sum(v for k, v in codes.items() if k != "200") + driven["skipped"]
              + connected["failed"] + got["counts"].get("bad", 0) + (n - got["open"]))
    lost = p_lost + t_lost
    met = (both["p99"] is not None and both["p99"] < P99_DELIVERY and post["p99"] is not None
           and post["p99"] < P99_POST and errors == 0 and lost == 0)
    posts = sum(codes.values())
    return Row(
        "F2 realistic mix",
        f"delivery p99 {_ms(both['p99'])}, POST p99 {_ms(post['p99'])}, "
        f"errors {errors}, lost {lost}",
        f"p99 < {P99_DELIVERY * 1000:.0f} ms / POST < {P99_POST * 1000:.0f} ms, 0 errors, 0 lost",
        met,
        f"{n} users x {contacts} contacts, {posts / driven['seconds']:.0f} POST/s for "
        f"{driven['seconds']:.0f} s; presence p50/p99 {_ms(percentiles(p_lat)['p50'])}/"
        f"{_ms(percentiles(p_lat)['p99'])} ({len(p_lat)} deliveries), typing p50/p99 "
        f"{_ms(percentiles(t_lat)['p50'])}/{_ms(percentiles(t_lat)['p99'])} ({len(t_lat)}); "
        f"POST p50 {_ms(post['p50'])}; codes {codes}; server cpu {cpu:.0%}; "
        f"connect {connected['seconds']:.0f} s; unexpected typing frames {t_extra}",
        {"errors": errors, "lost": lost, "p99_delivery": both["p99"], "p99_post": post["p99"],
         "codes": codes, "server_cpu": cpu, "rss_mb": rss0 / 2**20,
         "closed": got["closed"], "frame_errors": got["errors"]},
    )


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"
