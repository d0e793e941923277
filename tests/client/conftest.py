"""Client tests: timing logic on the autojump clock with a scripted fake transport
(fakes.py), and the same behaviours end to end against a real hypercorn server."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from presence_client import ClientTiming, open_presence_manager

from .fakes import FakeTransport

DEVICE = "test-device"


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@asynccontextmanager
async def manager_on(transport, token: str | None = "token-1", **timing):
    """A running manager over `transport`, logged in with `token` unless it is None."""
    async with open_presence_manager(transport, device_id=DEVICE,
                                     timing=ClientTiming(**timing)) as manager:
        if token is not None:
            manager.handle_login(token)
        yield manager
