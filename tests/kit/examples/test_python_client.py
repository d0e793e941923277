"""The Python client (presence_client) against the real service, on the mock clock."""

from presence_actors.testing import presence_update
from presence_client import open_presence_manager


async def test_the_app_goes_to_the_background_for_ten_minutes(presence):
    grace = await presence.client(2).subscribe()
    async with open_presence_manager(presence.transport) as ada:  # in memory, no socket
        ada.handle_login(presence.token(1))
        ada.foreground()
        await presence.advance(10)
        ada.background()                  # a final `away`, the socket closed
        await presence.advance(600)
    assert grace.take() == [
        presence_update(1, "online", presence.timestamp(0)),
        presence_update(1, "away", presence.timestamp(10)),
        presence_update(1, "offline", presence.timestamp(10)),
    ]
