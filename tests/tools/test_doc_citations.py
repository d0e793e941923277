"""docs/architecture.md's citations are true: every `path::name` it names exists.

The architecture page maps each SPEC rule to the code that decides it and a test that
proves it. A renamed test or function would leave a newcomer a dead end, so each citation
is resolved here: a Python path by its syntax tree (a top-level function, class or
assignment, then a method or attribute of a class, for `path::Class::method`), any other
file by the name appearing in it. Its links to the other docs must resolve too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
CITATION = re.compile(r"`((?:[\w.-]+/)*[\w.-]+\.(?:py|js|html|toml|md))((?:::\w+)+)`")
LINK = re.compile(r"\]\(([\w./-]+\.md)(?:#[\w-]+)?\)")
LINKED_DOCS = ["api", "configuration", "operations", "storage", "cluster", "client",
               "web-client", "testing", "benchmarks"]


def citations(text: str) -> list[tuple[str, list[str]]]:
    return [(path, names.split("::")[1:]) for path, names in CITATION.findall(text)]


def _names(node: ast.stmt) -> list[str]:
    """What a statement defines: a function's or class's name, an assignment's targets."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else (
        [node.target] if isinstance(node, ast.AnnAssign) else [])
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _defined(body: list[ast.stmt], name: str) -> ast.stmt | None:
    return next((node for node in body if name in _names(node)), None)


def resolves(path: str, names: list[str]) -> bool:
    """Whether `path::name[::member]` names something that exists."""
    file = ROOT / path
    if not file.is_file():
        return False
    text = file.read_text()
    if not path.endswith(".py"):
        return all(re.search(rf"\b{re.escape(name)}\b", text) for name in names)
    body = ast.parse(text).body
    for name in names:
        node = _defined(body, name)
        if node is None:
            return False
        body = getattr(node, "body", [])
    return True


def test_every_cited_path_and_name_exists() -> None:
    cited = citations(ARCHITECTURE.read_text())
    assert len(cited) > 100, "the index was not found: the citation pattern matches nothing"
    dead = [f"{path}::{'::'.join(names)}" for path, names in cited if not resolves(path, names)]
    assert dead == [], f"docs/architecture.md cites what does not exist: {dead}"


def test_the_index_has_rows_for_every_spec_section() -> None:
    text = ARCHITECTURE.read_text()
    sections = {int(n) for n in re.findall(r"^\| (\d+) \| ", text, re.MULTILINE)}
    assert sections == set(range(1, 16))


def test_every_other_doc_is_linked_and_every_link_resolves() -> None:
    links = LINK.findall(ARCHITECTURE.read_text())
    assert [doc for doc in LINKED_DOCS if f"{doc}.md" not in links] == []
    assert [link for link in links if not (ARCHITECTURE.parent / link).is_file()] == []


@pytest.mark.parametrize(
    ("path", "names", "exists"),
    [
        ("tests/tools/test_doc_citations.py", ["resolves"], True),
        ("tests/tools/test_doc_citations.py", ["ROOT"], True),
        ("web/host.py", ["ServiceHost", "mark_offline"], True),
        ("web/host.py", ["ServiceHost", "no_such_method"], False),
        ("web/host.py", ["mark_offline"], False),  # a method is not a module name
        ("web/no_such_module.py", ["x"], False),
        ("web/static/presence.js", ["bindPageLifecycle"], True),
        ("web/static/presence.js", ["bindPage"], False),
    ],
)
def test_resolving_tells_a_live_citation_from_a_dead_one(path, names, exists) -> None:
    assert resolves(path, names) is exists
