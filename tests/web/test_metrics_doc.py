"""docs/operations.md names every metric exactly as a running node's /metrics exports it.

An operator builds dashboards and alerts from that table; a name that is documented but
not exported (or exported under another name) is an alert that never fires.
"""

from __future__ import annotations

import re
from pathlib import Path

import trio

from tests.cluster.conftest import redis_target  # noqa: F401 (a fixture)

from .conftest import serving, test_settings

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
ROW = re.compile(r"^\| `(presence_[a-z_]+)(?:\{[a-z]+\})?` \| (gauge|counter) \|", re.MULTILINE)
TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)


def documented() -> dict[str, str]:
    """The metrics section's tables: name -> type."""
    text = OPERATIONS.read_text()
    section = text[text.index("## Metrics"):text.index("\n## ", text.index("## Metrics") + 1)]
    rows = ROW.findall(section)
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), f"a metric is documented twice: {names}"
    return dict(rows)


def exported(metrics_text: str) -> dict[str, str]:
    """The families of a /metrics answer (its # TYPE lines), without prometheus_client's
    `_created` companions of unlabelled counters (the doc says they exist)."""
    return {
        name: kind for name, kind in TYPE.findall(metrics_text)
        if not name.endswith("_created")
    }


def compare(real: dict[str, str], docs: dict[str, str]) -> None:
    missing = {name: kind for name, kind in real.items() if name not in docs}
    stale = {name: kind for name, kind in docs.items() if name not in real}
    wrong_type = {name: (docs[name], kind) for name, kind in real.items()
                  if name in docs and docs[name] != kind}
    assert (missing, stale, wrong_type) == ({}, {}, {}), (
        "docs/operations.md's metric tables differ from /metrics: "
        f"exported but undocumented {missing}, documented but not exported {stale}, "
        f"documented with another type (doc, real) {wrong_type}"
    )


async def metrics_of(settings) -> str:
    """/metrics of a node with `settings` that served one status post (a real server)."""
    async with serving(settings) as running, running.client(1) as ada:
        assert (await ada.post("/api/presence/status", json={"status": "online"})
                ).status_code == 200
        return (await ada.get("/metrics")).text


async def test_a_single_node_exports_every_documented_metric_but_the_clusters(tmp_path):
    text = await metrics_of(test_settings(database_url=f"sqlite:///{tmp_path}/p.db", demo=True))
    real = exported(text)
    assert len(real) > 20, text  # the parse found the families, not an empty page
    docs = {n: k for n, k in documented().items() if not n.startswith("presence_cluster_")}
    compare(real, docs)


async def test_a_cluster_node_exports_every_documented_metric(tmp_path, redis_target):  # noqa: F811
    settings = test_settings(database_url=f"sqlite:///{tmp_path}/p.db", demo=True,
                             redis_url=f"{redis_target.url}?prefix={redis_target.prefix}")
    with trio.fail_after(30):
        text = await metrics_of(settings)
    compare(exported(text), documented())


def test_the_doc_parse_finds_every_table_row() -> None:
    rows = documented()
    assert {"presence_sockets_closed_total", "presence_live_actors",
            "presence_storage_lag_seconds"} <= rows.keys()
    assert rows["presence_sockets_closed_total"] == "counter"
