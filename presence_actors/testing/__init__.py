"""presence_actors.testing: the whole service on trio's MockClock, for tests (SPEC §15).

    from presence_actors.testing import open_presence_kit

    async with open_presence_kit() as presence:       # or the `presence` pytest fixture
        ada, grace = presence.client(1, "phone"), presence.client(2, "laptop")
        watch = await grace.subscribe()
        await ada.set_status("online")
        await presence.advance(60)                    # no wall time on MockClock
        assert [f["data"]["status"] for f in watch.take()] == ["online", "offline"]

See docs/testing.md. The names below are imported on first use, so that the pytest plugin
(`presence_actors.testing.plugin`, loaded by every pytest run where the package is
installed) costs nothing until a test asks for the kit.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ApiError": "clients",
    "VirtualClient": "clients",
    "VirtualSocket": "clients",
    "InMemorySocket": "asgi",
    "InMemoryTransport": "asgi",
    "LifespanFailed": "asgi",
    "app_lifespan": "asgi",
    "DEFAULT_DIRECTORY": "directories",
    "directory_data": "directories",
    "error": "frames",
    "pong": "frames",
    "presence_removed": "frames",
    "presence_update": "frames",
    "typing_update": "frames",
    "DEFAULT_START": "kit",
    "PresenceKit": "kit",
    "kit_settings": "kit",
    "open_presence_kit": "kit",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
