"""One access-log line per request (`PRESENCE_ACCESS_LOG`).

hypercorn 0.18 logs an HTTP request twice when the client closes its end as soon as it has
read the response (curl does): the stream-closed event logs it with status `-` while the
response's own line is still on its way. hypercorn never cancels the app when a client
goes away, so the app's response always ends with its own line, carrying the status the
app decided; the `-` call is the duplicate and is dropped. Installed as hypercorn's
`logger_class` by `web.server.hypercorn_config` (and so by `web.hypercorn_conf`).
"""

from __future__ import annotations

from hypercorn.logging import Logger


class AccessLogger(Logger):
    async def access(self, request, response, request_time: float) -> None:
        if response is None:  # "stream closed before the response ended": see above
            return
        await super().access(request, response, request_time)
