"""Optional py-spy sampling of the server during a scenario's measured window.

`python -m bench --profile DIR` records `DIR/<scenario>.txt` (collapsed stacks, loadable by
speedscope or flamegraph.pl) and `DIR/<scenario>.svg` is left to those tools; `summary`
prints the heaviest frames by own time and by inclusive time, and the share of each area
of the server (`AREAS`). Only the thread holding the GIL is sampled (`--gil`), so time
waiting in epoll is not counted and the shares are shares of CPU.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path, rate: int = 200) -> subprocess.Popen | None:
    binary = py_spy()
    if binary is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [binary, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", str(rate),
         "-f", "raw", "-o", str(out), "--nonblocking", "--gil"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def finish(process: subprocess.Popen | None, out: Path, top: int = 25) -> str:
    if process is None:
        return "py-spy not found"
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    if not out.exists():
        return "py-spy wrote nothing"
    text = summary(out, top)
    out.with_suffix(".summary.txt").write_text(text)
    return text


# Where a sample's CPU goes, first match from the top of this list (a substring of any frame).
# Every ASGI call runs under `Quart.__call__` (web/asgi.py is Quart's `asgi_app`), so Quart's
# own area is its request machinery (quart_trio's connection classes), not that frame.
AREAS = (
    ("directory refresh", "refresh_directory"),
    ("directory refresh", "directory_cache"),
    ("storage", "storage/"),
    ("socket writes and pings (pump)", "web/pump.py"),
    ("socket reads (client frames)", "web/client_frames.py"),
    ("socket reads (client frames)", "SocketSession._handle"),
    ("websocket connect/subscribe", "subscribe"),
    ("REST requests (handlers)", "web/rest.py"),
    ("REST requests (direct POSTs)", "web/direct_post.py"),
    ("actors", "presence_actors/"),
    ("quart (request machinery)", "quart_trio/asgi.py"),
    ("websocket frames in (hypercorn, wsproto)", "ws_stream.py"),
    ("HTTP/1.1 in and out (hypercorn, h11)", "protocol/h11.py"),
    ("HTTP/1.1 in and out (hypercorn, h11)", "http_stream.py"),
    ("hypercorn (other)", "hypercorn/"),
    ("trio deadline heap", "Deadlines"),
    ("trio run loop", "trio/"),
    ("bench probe", "bench/probe.py"),
)


def area(frames: list[str]) -> str:
    for name, needle in AREAS:
        if any(needle in f for f in frames):
            return name
    return "other"


def summary(path: Path, top: int = 25) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        areas[area(frames)] += n
        for frame in set(frames):
            inclusive[frame] += n
    total = max(total, 1)
    lines = [f"{total} samples", "-- by area"]
    lines += [f"{100 * n / total:5.1f}% {name}" for name, n in areas.most_common()]
    lines += ["-- own time"]
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in own.most_common(top)]
    lines += ["-- inclusive"]
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)
