"""The unreachable-code check `./dev test` runs (tools/check_unreachable.py) catches what
ruff 0.17.6 cannot, and stays quiet on code that does run."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tools.check_unreachable import unreachable

CHECK = Path(__file__).parents[2] / "tools" / "check_unreachable.py"


def flagged(source: str) -> list[int]:
    """Line numbers of the unreachable statements in `source`."""
    return [s.lineno for s in unreachable(ast.parse(textwrap.dedent(source)))]


@pytest.mark.parametrize("ending", ["return 1", "raise ValueError", "break", "continue"])
def test_a_statement_after_an_ending_one_is_flagged(ending):
    source = f"""
    def f(x):
        for _ in x:
            {ending}
            x = 2
    """
    assert flagged(source) == [5]


def test_the_old_copy_of_a_body_after_its_return_is_flagged():
    # The shape issue 9 found in user_rules.set_status: a second body after `return`.
    source = """
    def set_status(state):
        state = state + 1
        return state
        state = state + 2
        return state
    """
    assert flagged(source) == [5]


def test_code_after_an_if_whose_branches_all_return_is_flagged():
    source = """
    def f(x):
        if x:
            return 1
        else:
            raise ValueError
        return 2
    """
    assert flagged(source) == [7]


def test_code_after_a_loop_that_never_breaks_is_flagged():
    source = """
    def f():
        while True:
            for _ in range(3):
                break
        return 1
    """
    assert flagged(source) == [6]


def test_code_after_an_if_without_else_is_reachable():
    assert flagged("def f(x):\n    if x:\n        return 1\n    return 2\n") == []


def test_code_after_a_loop_that_breaks_is_reachable():
    assert flagged("while True:\n    break\nx = 1\n") == []


def test_code_after_a_with_block_that_raises_is_reachable():
    # `with suppress(...)` may swallow the raise: not flagged.
    assert flagged("with suppress(KeyError):\n    raise KeyError\nx = 1\n") == []


def test_the_command_fails_on_a_planted_file_and_passes_on_a_clean_one(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    return 1\n    print('never')\n")
    clean = tmp_path / "clean.py"
    clean.write_text("def f():\n    return 1\n")
    bad = subprocess.run([sys.executable, CHECK, planted], capture_output=True, text=True)
    good = subprocess.run([sys.executable, CHECK, clean], capture_output=True, text=True)
    assert (bad.returncode, good.returncode) == (1, 0)
    assert f"{planted}:3: unreachable code" in bad.stdout

