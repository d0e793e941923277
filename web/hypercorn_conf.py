"""hypercorn settings from `PRESENCE_*`, for the hypercorn CLI:

    hypercorn -c python:web.hypercorn_conf 'web.hypercorn_conf:create_app()'

Importing it does what `presence-actors serve` does before serving: raises the fd limit,
quiets EMFILE, and installs web/hypercorn_patch.py (write deadlines, direct frame writes,
close frames) with the write and close timeouts. hypercorn serves from worker processes it
spawns, which import the application but not the config file: naming the app through this
module (`create_app` below) is what installs the patch there too. WebSockets must be
HTTP/1.1 upgrades for the pump to write and ping them, so TLS offers only http/1.1.
"""

from . import hypercorn_patch as _patch
from .app import create_app as _create_app
from .config import Settings as _Settings
from .server import connection_policy as _policy
from .server import hypercorn_config as _hypercorn_config
from .server import prepare_process as _prepare

_settings = _Settings.from_env()
_config = _hypercorn_config(_settings)
_prepare()
_patch.install(_policy(_settings))  # every connection of this process

bind = _config.bind
backlog = _config.backlog
websocket_ping_interval = _config.websocket_ping_interval
read_timeout = _config.read_timeout
websocket_max_message_size = _config.websocket_max_message_size
graceful_timeout = _config.graceful_timeout
alpn_protocols = ["http/1.1"]
accesslog = "-" if _config.accesslog is not None else None
errorlog = "-"
logger_class = _config.logger_class  # one access line per request (web.access_log)
worker_class = "trio"


def create_app():
    """The app, with its subscribe route driven directly by hypercorn in this process."""
    app = _create_app()
    _patch.install(_policy(_settings), route=app.asgi_app.route.direct)
    return app


__all__ = ["create_app"]
