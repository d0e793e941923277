"""SPEC §1's layout: `presence_actors/` is the actor runtime and the domain, with no HTTP
and no SQL; those live in `web/` and `storage/`.

The testing kit (`presence_actors/testing/`) is the one exception by design: it runs the
real app (`web.create_app`) in memory, and nothing in the core imports it
(docs/architecture.md, "The modules").
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "presence_actors"
KIT = CORE / "testing"
# The project's HTTP and SQL layers, and the libraries that speak HTTP or a database.
FORBIDDEN = {"web", "storage", "quart", "quart_trio", "hypercorn", "werkzeug", "httpx",
             "asyncpg", "sqlite3", "trio_websocket", "wsproto", "h11"}


def imported_roots(tree: ast.Module) -> set[str]:
    """The top-level package of every absolute import, at any depth (lazy ones included)."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_core_imports_no_http_and_no_sql() -> None:
    offenders = {}
    files = [f for f in CORE.rglob("*.py") if KIT not in f.parents]
    assert len(files) > 20
    for file in files:
        bad = imported_roots(ast.parse(file.read_text())) & FORBIDDEN
        if bad:
            offenders[str(file.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_a_lazy_import_inside_a_function_is_found() -> None:
    tree = ast.parse("def f():\n    import storage.store\n    from web.app import create_app\n")
    assert imported_roots(tree) & FORBIDDEN == {"storage", "web"}
