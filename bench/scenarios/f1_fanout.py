"""F1 fan-out: N subscribers watch one user whose status flips as fast as it is accepted.

The same subscriber pool and the same ~100-byte presence_update frames are first run
against the `websockets` reference, then against the service (rate limit off, statuses
alternating so every accepted change pushes). Deliveries/s are frames received by all
subscribers over the measured window, after a warm-up.
"""

from __future__ import annotations

import orjson

from .. import directories, profiling, servers, tokens
from ..workers import Worker
from . import Context, Row

TARGET = 0.50  # issue 10.4 (was 0.30)


def reference_frames() -> list[bytes]:
    return [
        orjson.dumps({"type": "presence_update", "data": {
            "user_id": 1, "status": status, "last_seen": "2026-11-27T23:20:00Z"}})
        for status in ("online", "away")
    ]


def measure(ctx: Context, server, plan, expect_initial: bool, drive, profile=None) -> dict:
    seconds, warmup = ctx.scale.f1_seconds, min(2.0, ctx.scale.f1_seconds / 2)
    pool = Worker("bench.pool.SubscriberPool", host=server.host, port=server.port,
                  subscribers=plan, mode="count", expect_initial=expect_initial)
    driver = Worker("bench.drivers.Flipper", host=server.host, port=server.port,
                    secret=tokens.SECRET)
    try:
        connected = pool.call("connect", concurrency=50)
        if connected["failed"]:
            raise RuntimeError(f"subscribers not connected: {connected}")
        cpu0 = server.cpu_seconds()
        pool.send("measure", warmup=warmup, duration=seconds)
        drive(driver, warmup + seconds + 0.5)
        sampler = profiling.start(server.ps.pid, warmup + seconds, profile) if profile else None
        window = pool.recv(wait=seconds + 120)
        driven = driver.recv(wait=seconds + 120)
        cpu = (server.cpu_seconds() - cpu0) / driven["seconds"]
        final = pool.call("results")
        if profile:
            ctx.say("F1 profile:\n" + profiling.finish(sampler, profile, top=15))
    finally:
        pool.stop()
        driver.stop()
    return {
        "rate": window["frames"] / window["seconds"],
        "accepted": driven["accepted"] / driven["seconds"],
        "codes": driven["codes"], "server_cpu": cpu, "load_cpu": window["cpu"],
        "bad": final["counts"].get("bad", 0), "errors": final["errors"],
        "closed": final["closed"], "sampled": final["counts"].get("sampled", 0),
        "p99_post": driven.get("p99"),
    }


def measure_reference(ctx: Context, n: int) -> dict:
    reference = servers.Reference()
    try:
        ref = measure(
            ctx, reference, [(i, "/subscribe") for i in range(2, n + 2)], False,
            lambda d, t: d.send("run_reference", frames=reference_frames(), duration=t,
                                window=16),
        )
    finally:
        reference.stop()
    ctx.say(f"F1: reference {ref['rate']:,.0f} deliveries/s (load cpu {ref['load_cpu']:.0%})")
    return ref


def run(ctx: Context) -> Row:
    """Reference, service, reference: the service is compared with the mean of both."""
    n = ctx.scale.f1_subscribers
    ctx.say(f"F1: {n} subscribers")
    before = measure_reference(ctx, n)

    db = ctx.workdir / "f1.db"
    url = f"sqlite:///{db}"
    servers.import_directory(url, directories.write(directories.fanout(n), ctx.workdir / "f1.json"),
                             ctx.workdir / "f1.log")
    service = servers.Service(url, ctx.workdir / "f1.log", status_min_interval=0,
                              user_status_burst=1_000_000)
    try:
        plan = [(i, tokens.subscribe_path(i)) for i in range(2, n + 2)]
        profile = ctx.profile_dir / "f1.txt" if ctx.profile_dir else None
        svc = measure(ctx, service, plan, True,
                      lambda d, t: d.send("run_service", user_id=1, duration=t), profile)
        svc["metrics"] = {k: v for k, v in service.metrics().items() if "deliver" in k}
    finally:
        service.stop()
    after = measure_reference(ctx, n)
    ref = {k: (before[k] + after[k]) / 2 for k in ("rate", "server_cpu", "load_cpu")}
    ref["runs"] = [before["rate"], after["rate"]]
    ctx.reference_rate = ref["rate"]
    ratio = svc["rate"] / ref["rate"] if ref["rate"] else 0.0
    # server CPU per delivered frame: steadier than rates on a shared machine
    svc["cpu_us"] = 1e6 * svc["server_cpu"] / svc["rate"] if svc["rate"] else None
    ref["cpu_us"] = 1e6 * ref["server_cpu"] / ref["rate"] if ref["rate"] else None
    errors = sum(v for k, v in svc["codes"].items() if int(k) != 200) + svc["bad"]
    ctx.say(f"F1: service {svc['rate']:,.0f} deliveries/s = {ratio:.2f} of reference")
    return Row(
        "F1 fan-out", f"{svc['rate']:,.0f} deliveries/s ({ratio:.2f}x ref {ref['rate']:,.0f}/s)",
        f">= {TARGET:.2f}x reference", ratio >= TARGET,
        f"{n} subs; {svc['accepted']:,.0f} changes/s accepted, POST p99 "
        f"{_ms(svc['p99_post'])}; server cpu {svc['server_cpu']:.0%} (ref "
        f"{ref['server_cpu']:.0%}), {_us(svc['cpu_us'])} per delivery (ref "
        f"{_us(ref['cpu_us'])}); load cpu {svc['load_cpu']:.0%} (ref {ref['load_cpu']:.0%}); "
        f"ref runs {before['rate']:,.0f} and {after['rate']:,.0f}/s; errors {errors}",
        {"reference": ref, "service": svc, "ratio": ratio, "errors": errors, "lost": 0},
    )


def _us(micros: float | None) -> str:
    return "-" if micros is None else f"{micros:.1f} us"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"
