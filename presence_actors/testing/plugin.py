"""The pytest plugin (entry point `pytest11`): the `presence` and `presence_factory` fixtures.

    async def test_ada_times_out(presence):
        ...

A test that uses either fixture is a trio test on `MockClock(autojump_threshold=0)` (the
`autojump_clock` fixture's), whether or not the project sets `trio_mode`: the plugin marks
it `trio` with a runner that uses that clock, since pytest-trio only takes a clock from
the arguments the test itself declares. `@pytest.mark.presence(...)` passes its arguments
to `open_presence_kit` for the `presence` fixture; `presence_factory(...)` starts as many
kits as a test wants, each with its own arguments.

This module is imported by every pytest run where presence-actors is installed, so it
imports the kit only when a fixture runs.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio

FIXTURES = frozenset({"presence", "presence_factory"})
_CLOCK_FIXTURE = "autojump_clock"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "presence(directory=..., timing=Timing(...), start=..., **settings): "
        "how the `presence` fixture starts the service (presence_actors.testing)",
    )


def _uses_kit(item: pytest.Item) -> bool:
    return bool(FIXTURES.intersection(getattr(item, "fixturenames", ())))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("trio"):
        return
    for item in items:
        if _uses_kit(item):
            run = functools.partial(_run_on_fixture_clock, item)
            item.add_marker(pytest.mark.trio(run=run), append=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _uses_kit(item) and not item.config.pluginmanager.hasplugin("trio"):
        pytest.fail("the presence fixtures need pytest-trio: "
                    "pip install 'presence-actors[testing]'", pytrace=False)


def _run_on_fixture_clock(item: pytest.Item, fn: Any, clock: Any = None, **kwargs: Any) -> Any:
    """pytest-trio's runner, on the clock of the `autojump_clock` fixture the kit fixtures
    depend on (a clock the test declares itself wins)."""
    if clock is None:
        clock = item.funcargs.get(_CLOCK_FIXTURE)
    return trio.run(fn, clock=clock, **kwargs)


@pytest.fixture
async def presence_factory(autojump_clock):
    """Start a kit: `await presence_factory(directory, timing=..., start=..., **settings)`
    takes `open_presence_kit`'s arguments; every kit stops when the test ends."""
    from .kit import open_presence_kit

    stop = trio.Event()

    async def run_kit(args: tuple, kwargs: dict,
                      task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        async with open_presence_kit(*args, **kwargs) as kit:
            task_status.started(kit)
            await stop.wait()

    async with trio.open_nursery() as nursery:

        async def factory(*args: Any, **kwargs: Any):
            return await nursery.start(run_kit, args, kwargs)

        yield factory
        stop.set()


@pytest.fixture
async def presence(presence_factory, request):
    """A running kit (see docs/testing.md), started with the arguments of the test's
    `@pytest.mark.presence(...)` if it has one, else the default directory and timings."""
    marker = request.node.get_closest_marker("presence")
    args, kwargs = (marker.args, marker.kwargs) if marker is not None else ((), {})
    return await presence_factory(*args, **kwargs)
