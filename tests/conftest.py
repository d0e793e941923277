"""Suite-wide guard: every async test runs under `trio.fail_after`, so none can hang CI.

Tests on the autojump clock get a bound in virtual seconds (a hung one fails at once,
since the bound itself is the next deadline); real-clock tests get a bound in seconds of
wall time. Tests still put tighter `fail_after` blocks around what they wait for.
"""

from __future__ import annotations

import functools
import inspect

import pytest
import trio

VIRTUAL_BOUND = 24 * 3600.0  # autojump: a day of virtual time
REAL_BOUND = 300.0  # real clock: five minutes


def _guarded(test, bound: float):
    @functools.wraps(test)
    async def guarded(*args, **kwargs):
        with trio.fail_after(bound):
            return await test(*args, **kwargs)

    return guarded


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = getattr(item, "obj", None)
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(test):
            virtual = "autojump_clock" in item.fixturenames
            item.obj = _guarded(test, VIRTUAL_BOUND if virtual else REAL_BOUND)
