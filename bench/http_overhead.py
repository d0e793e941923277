"""Server CPU per POST: a bare ASGI route, a Quart-Trio route, and the service's status POST.

    python -m bench.http_overhead [--seconds 10] [--connections 16]

Each server runs alone on hypercorn's trio worker pinned to the server core; a closed loop
of keep-alive connections on the load core POSTs `{"status": "away"}` as fast as answers
come back. What is compared is server CPU per request (psutil, user + system), which stays
meaningful on a busy machine where requests per second do not. The difference between the
first two is Quart's own per-request cost; between the second and the third, what the
service adds (JWT check, validation, the actor round trip, metrics, the fan-out to a
partner with no socket open). Findings are in docs/benchmarks.md ("F2 tail: findings").
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from . import directories, machine, servers, tokens
from .wire import HttpConnection

BODY = orjson.dumps({"status": "away"})
STATUSES = [orjson.dumps({"status": s}) for s in ("online", "away")]


async def bare_app(scope, receive, send) -> None:
    """The least an ASGI app can do for the same POST: read, parse, answer JSON."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    payload = orjson.dumps({"user_id": 1, "status": orjson.loads(body)["status"]})
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


def quart_app():
    """The same route on Quart-Trio, as the service's handlers are written."""
    from quart import request
    from quart_trio import QuartTrio

    app = QuartTrio(__name__)

    @app.post("/api/presence/status")
    async def status():
        body = orjson.loads(await request.get_data())
        return {"user_id": 1, "status": body["status"]}

    return app


class Hypercorn(servers.Server):
    def __init__(self, app: str) -> None:
        self.port = servers.free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "--worker-class", "trio", "--bind",
             f"127.0.0.1:{self.port}", app], cwd=servers.ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=machine.pinned_to(machine.SERVER_CORE))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                asyncio.run(_one(self.port, {}))
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{app} did not start")


async def _one(port: int, headers: dict) -> int:
    conn = HttpConnection("127.0.0.1", port)
    try:
        return (await conn.request("POST", "/api/presence/status", BODY, headers))[0]
    finally:
        conn.close()


async def hammer(port: int, headers: dict, seconds: float, connections: int) -> dict:
    codes: dict[int, int] = {}

    async def loop(k: int) -> None:
        conn, i = HttpConnection("127.0.0.1", port), k
        while time.monotonic() < end:
            status, _ = await conn.request("POST", "/api/presence/status", STATUSES[i % 2],
                                           headers)
            codes[status] = codes.get(status, 0) + 1
            i += 1
        conn.close()

    end = time.monotonic() + seconds
    await asyncio.gather(*(loop(k) for k in range(connections)))
    return codes


def measure(server: servers.Server, headers: dict, seconds: float, connections: int) -> dict:
    asyncio.run(hammer(server.port, headers, 1.0, connections))  # warm-up
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    codes = asyncio.run(hammer(server.port, headers, seconds, connections))
    cpu, wall = server.cpu_seconds() - cpu0, time.monotonic() - t0
    n = sum(codes.values())
    return {"requests": n, "per_s": n / wall, "cpu_us": 1e6 * cpu / max(1, n),
            "server_cpu": cpu / wall, "codes": codes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_overhead", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    machine.pin(machine.LOAD_CORE)
    work = Path(tempfile.mkdtemp(prefix="presence-http-"))
    url = f"sqlite:///{work / 'svc.db'}"
    servers.import_directory(url, directories.write(directories.fanout(1), work / "d.json"),
                             work / "svc.log")
    cases = [
        ("bare ASGI", lambda: Hypercorn("bench.http_overhead:bare_app"), {}),
        ("Quart-Trio route", lambda: Hypercorn("bench.http_overhead:quart_app()"), {}),
        ("service POST /api/presence/status",
         lambda: servers.Service(url, work / "svc.log", status_min_interval=0,
                                 user_status_burst=1_000_000),
         tokens.auth(1, "bench", tokens.SECRET)),
    ]
    for name, start, headers in cases:
        server = start()
        try:
            r = measure(server, headers, args.seconds, args.connections)
        finally:
            server.stop()
        print(f"{name:<36} {r['cpu_us']:7.0f} us server CPU/request  {r['per_s']:7.0f} req/s  "
              f"server cpu {r['server_cpu']:.0%}  codes {r['codes']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
