"""hypercorn settings from `PRESENCE_*`, for the hypercorn CLI:

    hypercorn --worker-class trio -c python:web.hypercorn_conf 'web.app:create_app()'

Without it, pass at least `--websocket-ping-interval 15 --read-timeout 45` (dead peers,
see web/server.py) and `--bind`.
"""

from .config import Settings as _Settings
from .server import hypercorn_config as _hypercorn_config

_config = _hypercorn_config(_Settings.from_env())

bind = _config.bind
websocket_ping_interval = _config.websocket_ping_interval
read_timeout = _config.read_timeout
websocket_max_message_size = _config.websocket_max_message_size
graceful_timeout = _config.graceful_timeout
write_timeout = _config.write_timeout  # not a hypercorn setting: web.hypercorn_patch reads it
accesslog = "-" if _config.accesslog is not None else None
errorlog = "-"
logger_class = _config.logger_class  # one access line per request (web.access_log)
worker_class = "trio"
