import trio
from trio.testing import MockClock

from presence_actors.testing import open_presence_kit


async def main() -> None:
    async with open_presence_kit(start="2024-06-01T00:00:00Z") as presence:
        ada = presence.client(1, "phone")
        await ada.set_status("online")
        await presence.advance(3600)
        print(await presence.client(2).presence(1))
        # {'user_id': 1, 'status': 'offline', 'last_seen': '2024-06-01T00:00:00Z', ...}


def test_main_runs_an_hour_in_no_time():
    trio.run(main, clock=MockClock(autojump_threshold=0))
