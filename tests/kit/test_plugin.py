"""The pytest plugin as a user meets it: a project of their own, no trio_mode, no conftest,
only `pip install presence-actors` (the `pytest11` entry point loads the plugin)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import pytest
from presence_actors import Timing

async def test_ten_minutes_pass_in_no_time(presence):
    ada = presence.client(1, "phone")
    await ada.set_status("away")
    await presence.advance(600)
    assert (await presence.client(2).presence(1))["status"] == "offline"
    assert presence.elapsed == 600

@pytest.mark.presence(timing=Timing(away_ttl=30))
async def test_the_marker_sets_the_timings(presence):
    await presence.client(1, "phone").set_status("away")
    assert presence.next_deadline() == 30

async def test_the_factory_starts_kits(presence_factory):
    first, second = await presence_factory(), await presence_factory(start=0)
    assert first.timestamp(0) == "2024-01-01T12:00:00Z"
    assert second.timestamp(0) == "1970-01-01T00:00:00Z"
'''


def test_a_user_project_gets_the_fixtures_from_the_entry_point(pytester: pytest.Pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=3)


def test_without_pytest_trio_the_fixtures_say_what_is_missing(pytester: pytest.Pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:trio")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*the presence fixtures need pytest-trio*"])
