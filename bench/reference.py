"""The fan-out reference: a minimal `websockets` (asyncio) broadcast server.

`python -m bench.reference` listens on 127.0.0.1 (port 0 = any; the bound port is printed
on stdout). Clients on `/subscribe` only receive; every text message a client sends on
`/publish` is broadcast once with `websockets.broadcast` to every subscriber and then
acknowledged to the publisher with `ok`, so the publisher can keep a bounded window of
events in flight, as the service's driver keeps its POSTs. Without that acknowledgement
`broadcast` has no backpressure and the write buffers would grow without bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

HIGH_WATER = 256 * 1024  # bytes queued on any subscriber before the publisher is held back


class Hub:
    def __init__(self) -> None:
        self.subscribers: set = set()

    async def handler(self, connection) -> None:
        path = connection.request.path
        if path.startswith("/subscribe"):
            self.subscribers.add(connection)
            try:
                await connection.wait_closed()
            finally:
                self.subscribers.discard(connection)
        elif path.startswith("/publish"):
            with contextlib.suppress(ConnectionClosed):
                async for message in connection:
                    broadcast(self.subscribers, message, text=True)
                    await self.drain()
                    await connection.send("ok")

    async def drain(self) -> None:
        for _ in range(10_000):  # bounded: at most ~10 s held back
            if all(c.transport.get_write_buffer_size() < HIGH_WATER for c in self.subscribers):
                return
            await asyncio.sleep(0.001)


async def main(port: int) -> None:
    hub = Hub()
    async with serve(
        hub.handler, "127.0.0.1", port, ping_interval=None, compression=None, backlog=4096
    ) as server:
        bound = server.sockets[0].getsockname()[1]
        print(bound, flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
