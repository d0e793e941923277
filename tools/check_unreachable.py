"""Fail on statements that can never run: code after a `return`, `raise`, `break` or
`continue` in the same block, after an `if` whose every branch ends so, or after a
`while True:` with no `break`.

ruff (pinned 0.17.6) has no unreachable-code rule, and such code is worse than none: a
reader takes an old copy of a body for the live one (issue 9). `./dev test` runs it on
every `.py` file of the tree (not .venv or build output):
`python tools/check_unreachable.py [PATH ...]`.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

SKIP = {".venv", ".git", "build", "node_modules", "__pycache__"}
BODIES = ("body", "orelse", "finalbody")


def ends(statement: ast.stmt) -> bool:
    """True when control never falls through past `statement`."""
    if isinstance(statement, ast.Return | ast.Raise | ast.Break | ast.Continue):
        return True
    if isinstance(statement, ast.If):
        return block_ends(statement.body) and block_ends(statement.orelse)
    if isinstance(statement, ast.While):
        forever = isinstance(statement.test, ast.Constant) and bool(statement.test.value)
        return forever and not any(isinstance(n, ast.Break) for n in _own_loop(statement))
    return False


def block_ends(block: list[ast.stmt]) -> bool:
    return bool(block) and ends(block[-1])


def _own_loop(loop: ast.While) -> Iterator[ast.AST]:
    """The loop's nodes, without nested loops (their `break` is theirs) or functions."""
    stack: list[ast.AST] = list(loop.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.For | ast.AsyncFor | ast.While | ast.FunctionDef
                          | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def unreachable(tree: ast.AST) -> Iterator[ast.stmt]:
    """The first unreachable statement of every block in `tree`."""
    for node in ast.walk(tree):
        blocks = [getattr(node, name, None) for name in BODIES]
        blocks += [handler.body for handler in getattr(node, "handlers", ())]
        blocks += [case.body for case in getattr(node, "cases", ())]
        for block in blocks:
            if not isinstance(block, list):
                continue
            for statement, following in itertools.pairwise(block):
                if ends(statement):
                    yield following
                    break


def python_files(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).parts
            if not SKIP.intersection(parts) and not any(p.endswith(".egg-info") for p in parts):
                yield path


def main(argv: list[str]) -> int:
    roots = [Path(arg) for arg in argv] or [Path(".")]
    found = 0
    for path in python_files(roots):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for statement in unreachable(tree):
            found += 1
            print(f"{path}:{statement.lineno}: unreachable code")
    if found:
        print(f"{found} unreachable block(s): delete them (or make them reachable)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
