"""docs/testing.md shows only code that runs: each Python block is an example file of
tests/kit/examples, included verbatim, and every example file is shown."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"
EXAMPLES = ROOT / "tests" / "kit" / "examples"
INCLUDED = re.compile(r"<!-- example: (?P<path>\S+) -->\n```python\n(?P<code>.*?)```", re.S)


def test_every_python_block_is_an_example_file_verbatim():
    text = DOC.read_text()
    included = list(INCLUDED.finditer(text))
    assert len(included) == text.count("```python"), "a Python block that is not an example"
    for block in included:
        path = ROOT / block["path"]
        assert path.parent == EXAMPLES, block["path"]
        assert block["code"] == path.read_text(), f"{block['path']} differs from the doc"


def test_every_example_file_is_in_the_doc():
    shown = {ROOT / m["path"] for m in INCLUDED.finditer(DOC.read_text())}
    assert shown == set(EXAMPLES.glob("test_*.py"))
