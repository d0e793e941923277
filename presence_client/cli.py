"""`python -m presence_client watch --url URL --token TOKEN`: print presence as it changes.

A real client: it logs in, comes to the foreground (so the user is `online` on this
device while it runs), and prints one line per event of the local view. Ctrl+C
terminates it (exit 0); an expired token ends it with exit 1.
"""

from __future__ import annotations

import signal
import sys
from functools import partial

import click
import trio

from .manager import open_presence_manager
from .models import (
    ConnectionChanged,
    PresenceChanged,
    PresenceEvent,
    PresenceRemoved,
    SessionExpired,
    TypingChanged,
    ViewSynced,
)


def describe(event: PresenceEvent) -> str:
    """One printable line per event."""
    if isinstance(event, PresenceChanged):
        presence, seen = event.presence, event.presence.last_seen
        when = seen.strftime("%Y-%m-%dT%H:%M:%SZ") if seen else "never"
        typing = ", typing" if presence.is_typing else ""
        return f"user {presence.user_id}: {presence.status.value} (last seen {when}{typing})"
    if isinstance(event, PresenceRemoved):
        return f"user {event.user_id}: no longer visible"
    if isinstance(event, TypingChanged):
        verb = "is typing" if event.is_typing else "stopped typing"
        return f"user {event.user_id} {verb} in conversation {event.conversation_id}"
    if isinstance(event, ViewSynced):
        return f"in sync: {event.user_count} visible users"
    if isinstance(event, ConnectionChanged):
        return "connected" if event.connected else f"disconnected; retrying in {event.retry_in:g} s"
    if isinstance(event, SessionExpired):
        return f"session expired: {event.reason}"
    return repr(event)


async def watch(url: str, token: str, device_id: str | None) -> int:
    expired = trio.Event()

    def show(event: PresenceEvent) -> None:
        print(describe(event), flush=True)
        if isinstance(event, SessionExpired):
            expired.set()

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_presence_manager(url, device_id=device_id) as manager:
            manager.view.on_change(show)
            manager.handle_login(token)
            manager.foreground()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_on, signals, nursery.cancel_scope)
                await expired.wait()
                nursery.cancel_scope.cancel()
    return 1 if expired.is_set() else 0


async def _cancel_on(signals, scope: trio.CancelScope) -> None:
    async for _ in signals:
        scope.cancel()
        return


@click.group()
def main() -> None:
    """The presence-actors Python client."""


@main.command("watch")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="the service's base URL")
@click.option("--token", required=True, envvar="PRESENCE_TOKEN",
              help="a bearer token (presence-actors token USER_ID)")
@click.option("--device-id", default=None, help="this device's key (default: a new one)")
def watch_command(url: str, token: str, device_id: str | None) -> None:
    """Go online and print every presence change as it arrives (Ctrl+C to stop)."""
    sys.exit(trio.run(partial(watch, url, token, device_id)))
