"""The app's ASGI entry, in front of Quart (installed as `app.asgi_app`, Quart's hook for
middleware, so the app object stays the Quart app for tests and the hypercorn CLI).

- WebSocket `/api/presence/subscribe` is served here, as raw ASGI (web/subscribe.py),
  when hypercorn's read loop did not take it directly (`route.direct`).
- The two hot POSTs, status and typing, are answered here too (web/direct_post.py):
  Quart's per-request machinery cost more than their handlers.
- A plain HTTP request to that path gets 426 Upgrade Required (405 for other methods),
  not Quart's 404.
- While the node drains, every HTTP response says `Connection: close`, so keep-alive
  clients open their next request elsewhere instead of on a connection about to close.

Everything else goes to Quart unchanged.
"""

from __future__ import annotations

from .direct_post import DirectPost, route_of
from .errors import error_response
from .subscribe import PATH, SubscribeRoute


class AsgiFront:
    def __init__(self, quart_asgi_app, host) -> None:
        self.app = quart_asgi_app
        self.host = host
        self.route = SubscribeRoute(host)
        self.post = DirectPost(host)

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "websocket" and scope.get("path") == PATH:
            await self.route(scope, receive, send)
        elif kind == "http" and scope.get("path") == PATH:
            await _upgrade_required(scope, send)
        elif kind == "http" and (rule := route_of(scope)) is not None:
            draining = self.host.draining.is_set()
            await self.post(rule, scope, receive, _closing(send) if draining else send)
        elif kind == "http" and self.host.draining.is_set():
            await self.app(scope, receive, _closing(send))
        else:
            await self.app(scope, receive, send)


def _closing(send):
    async def send_with_close(message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return send_with_close


async def _upgrade_required(scope, send) -> None:
    if scope.get("method") in ("GET", "HEAD"):
        response = error_response(426, "This is a WebSocket endpoint: connect with a "
                                  "WebSocket client (Upgrade: websocket)",
                                  {"Upgrade": "websocket", "Connection": "close"})
    else:
        response = error_response(405, "Method Not Allowed",
                                  {"Allow": "GET", "Connection": "close"})
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
               for k, v in response.headers.items()]
    body = await response.get_data() if scope.get("method") != "HEAD" else b""
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": headers})
    await send({"type": "http.response.body", "body": body})
