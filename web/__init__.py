"""The web layer: the Quart-Trio app, JWT auth, REST and WebSocket handlers, the CLI."""

from .app import create_app
from .config import Settings

__all__ = ["Settings", "create_app"]
