"""Starts `bench.probe` in a server the bench launched with `BENCH_PROBE=FILE` set.

Python imports `sitecustomize` from `sys.path` at start-up; the bench puts this folder on
the server's PYTHONPATH only when it profiles, so nothing else ever loads it.
"""

import os

if os.environ.get("BENCH_PROBE"):
    from bench import probe

    probe.install(os.environ["BENCH_PROBE"])
