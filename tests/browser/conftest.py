"""Browser tests: Debian's Chromium driven by Playwright's sync API, against real servers.

Playwright's sync API owns the main thread (it runs its own event loop there), so the servers
live in one trio event loop on a second thread (`ServerLoop`): each test starts a real
hypercorn server on port 0 there, with the app, actors and memory store the web tests use,
and stops it at the end; the test reaches it through `trio.from_thread`. Every wait is a
Playwright wait on a DOM condition (or a trio event), never a sleep.

Chromium is /usr/bin/chromium (`.ci/run` installs Debian's package when it is missing).
Without it these tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from presence_actors import MemoryStore
from tests.web.conftest import Server, serving, test_settings
from web.config import Settings
from web.demo import DEMO_DIRECTORY, directory_data

CHROMIUM = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; the rest keep it from calling out to Google's hosts,
# which a machine without outside network refuses many times a second.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 10_000  # the default bound on every Playwright wait


class ServerLoop:
    """A trio event loop on its own thread that runs servers for tests on the main thread."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="trio-servers", daemon=True)
        self._error: BaseException | None = None
        self._token = None
        self._nursery: trio.Nursery | None = None
        self._close: trio.Event | None = None

    def __enter__(self) -> ServerLoop:
        self._thread.start()
        if not self._ready.wait(30) or self._token is None:
            raise RuntimeError(f"the server thread did not start: {self._error!r}")
        return self

    def __exit__(self, *exc_info) -> None:
        if self._thread.is_alive():
            trio.from_thread.run_sync(self._close.set, trio_token=self._token)
            self._thread.join(60)
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            trio.run(self._serve_forever)
        except BaseException as error:  # surfaced by run() and __exit__
            self._error = error
        finally:
            self._ready.set()

    async def _serve_forever(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._close = trio.Event()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._ready.set()
            await self._close.wait()
            nursery.cancel_scope.cancel()

    def run(self, async_fn, *args):
        """Run `async_fn(*args)` on the server loop and return its result."""
        if not self._thread.is_alive():
            raise RuntimeError(f"the server loop has stopped: {self._error!r}")
        return trio.from_thread.run(async_fn, *args, trio_token=self._token)

    def start_server(self, settings: Settings, store) -> Server:
        """A real server (tests/web's `serving`) running on the loop until `stop_server`."""
        return self.run(self._start_server, settings, store)

    def stop_server(self, server: Server) -> None:
        self.run(self._stop_server, server)

    async def _start_server(self, settings: Settings, store) -> Server:
        with trio.fail_after(30):
            return await self._nursery.start(self._serve, settings, store)

    @staticmethod
    async def _serve(settings: Settings, store, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with serving(settings, store=store) as server:
            task_status.started(server)
            await server.stopped.wait()

    @staticmethod
    async def _stop_server(server: Server) -> None:
        with trio.fail_after(30):
            await server.stop()


def demo_settings(data_dir: Path, **overrides: object) -> Settings:
    """`serve`'s demo mode (dev secret in `data_dir`) with the web tests' quick shutdown."""
    values: dict[str, object] = {"jwt_secret": None, "data_dir": str(data_dir), "demo": True}
    values.update(overrides)
    return test_settings(**values).with_dev_secret()


def demo_store(**changes: list) -> MemoryStore:
    """A memory store holding the demo directory, with `changes` added to its lists."""
    document = {key: list(value) for key, value in DEMO_DIRECTORY.items()}
    for key, extra in changes.items():
        document[key] = document[key] + extra
    return MemoryStore(directory_data(document))


@pytest.fixture(scope="package")
def server_loop() -> Iterator[ServerLoop]:
    with ServerLoop() as loop:
        yield loop


# Package scope, not session: while Playwright's sync API is alive, asyncio sees its loop as
# running on the main thread, and any later test calling asyncio.run() (tests/storage does)
# would fail. Torn down when pytest leaves tests/browser.
@pytest.fixture(scope="package")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def start_server(server_loop, tmp_path):
    """Start demo servers (stopped after the test): `start_server(store=..., **settings)`."""
    running: list[Server] = []

    def start(store=None, **overrides: object) -> Server:
        settings = demo_settings(tmp_path / "data", **overrides)
        server = server_loop.start_server(settings, store or demo_store())
        running.append(server)
        return server

    yield start
    for server in running:
        server_loop.stop_server(server)


@pytest.fixture
def demo_server(start_server) -> Server:
    return start_server()


@dataclass
class Tab:
    """One browser tab in its own context (its own sessionStorage, so its own device id)."""

    page: object
    errors: list[str]

    def person(self, user_id: int, status: str | None = None):
        selector = f'#people li[data-user-id="{user_id}"]'
        if status is not None:
            selector += f'[data-status="{status}"]'
        return self.page.locator(selector)

    def conversation_typing(self, conversation_id: int):
        selector = f'#conversations li[data-conversation-id="{conversation_id}"] .typing'
        return self.page.locator(selector)

    def connection(self, state: str):
        return self.page.locator(f'#connection[data-state="{state}"]')


@pytest.fixture
def open_tab(chromium) -> Iterator:
    """`open_tab(url, user=None, before=None, **context_options)`: a new tab on the page,
    signed in as `user` when given; `before(page)` runs before it navigates."""
    contexts = []
    tabs: list[Tab] = []

    def open_(url: str, user: int | None = None, before=None, **context_options) -> Tab:
        context_options.setdefault("viewport", {"width": 1100, "height": 800})
        context = chromium.new_context(**context_options)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page, [])
        page.on("pageerror", lambda error: tab.errors.append(str(error)))
        if before is not None:
            before(page)
        page.goto(url + (f"/?user={user}" if user is not None else "/"))
        if user is not None:
            tab.connection("live").wait_for()
        tabs.append(tab)
        return tab

    yield open_
    for context in contexts:
        context.close()
    errors = [error for tab in tabs for error in tab.errors]
    assert not errors, f"JavaScript errors in the page: {errors}"

