"""A TCP proxy in front of Redis that a test can cut (close everything, refuse new
connections) and restore: a Redis outage as a node sees it, without touching the shared
Redis server."""

from __future__ import annotations

import trio


class CuttableProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.port = 0
        self._links = trio.CancelScope()
        self._listener: trio.SocketListener | None = None
        self._accepting: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._flowing = trio.Event()
        self._flowing.set()

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await self._listen(self.port)
            task_status.started(self.port)
            await trio.sleep_forever()

    async def _listen(self, port: int) -> None:
        listeners = await trio.open_tcp_listeners(port, host=self.host)
        self._listener = listeners[0]
        self.port = self._listener.socket.getsockname()[1]
        self._links = trio.CancelScope()
        self._nursery.start_soon(self._accept, self._listener, self._links)

    async def _accept(self, listener: trio.SocketListener, links: trio.CancelScope) -> None:
        with links:
            async with trio.open_nursery() as nursery:
                await trio.serve_listeners(self._link, [listener], handler_nursery=nursery)
        await listener.aclose()  # refuse new connections until `restore`

    async def _link(self, client: trio.SocketStream) -> None:
        server = await trio.open_tcp_stream(self.host, self.target_port)
        async with client, server, trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, client, server, nursery.cancel_scope)
            nursery.start_soon(self._pump, server, client, nursery.cancel_scope)

    def stall(self) -> None:
        """Connections stay open but nothing gets through: a Redis that stopped answering."""
        self._flowing = trio.Event()

    def flow(self) -> None:
        self._flowing.set()

    async def _pump(
        self, source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope
    ) -> None:
        try:
            async for chunk in source:
                await self._flowing.wait()
                await sink.send_all(chunk)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            done.cancel()

    def cut(self) -> None:
        """Every connection through the proxy is closed, and new ones are refused."""
        self._links.cancel()

    async def restore(self) -> None:
        await self._listen(self.port)

