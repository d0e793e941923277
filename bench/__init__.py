"""Benchmark harness for presence-actors (issue 5): `python -m bench [--quick]`.

The server under test runs as a subprocess pinned to core 0; the load runs in separate
processes pinned to core 1, speaking raw WebSocket/HTTP over loopback so the load side
stays cheap enough not to be the bottleneck. A `websockets` broadcast server fed the same
frames is measured in the same run as the fan-out reference. See docs/benchmarks.md.
"""
