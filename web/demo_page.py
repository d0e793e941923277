"""The browser side: the client module always, the demo page and its sign-in when they are on.

- `/static/presence.js`, the browser client (SPEC §14), is served whatever the configuration:
  it is public code that any web app of the deployment may import.
- The demo page (`/` and `/static/demo.*`) when the demo directory is on (`serve`'s default)
  or with `--demo-page 1` (`PRESENCE_DEMO_PAGE=1`).
- `GET /demo/users` and `POST /demo/token` let anyone sign in as anyone, so they exist only in
  demo mode: the demo setting on *and* the tokens signed with the development secret that
  `serve` generated in the data dir. Any configured key (`PRESENCE_JWT_SECRET`, a public key)
  is a real deployment: there they are 404 and the page asks for a token instead.

Files are read once, at start, and served with their exact content type, `nosniff`, and
`Cache-Control: no-cache` with an ETag: the names carry no version, so a browser revalidates
each use (a bodiless 304) and never runs a stale module after an upgrade.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from quart import Blueprint, Response, abort, request
from quart_schema import hide

from presence_actors import ActorUnavailable, NotFound, format_time

from .config import DEV_SECRET_FILE, Settings
from .errors import json_response
from .host import current_host
from .schemas import PositiveId, parse_body
from .tokens import mint

STATIC_DIR = Path(__file__).parent / "static"
CLIENT_FILES = ("presence.js",)
DEMO_FILES = ("index.html", "demo.js", "demo.css")
DEMO_TOKEN_TTL = 3600.0  # seconds; the page signs in again when a token expires
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
# The page loads only its own files and talks only to its own origin (WebSocket included).
PAGE_POLICY = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def read(cls, name: str) -> StaticFile:
        body = (STATIC_DIR / name).read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:20]
        return cls(body, CONTENT_TYPES[Path(name).suffix], digest)

    def response(self) -> Response:
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                   "ETag": f'"{self.etag}"'}
        if self.content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = PAGE_POLICY
            headers["Referrer-Policy"] = "no-referrer"
        if request.if_none_match.contains(self.etag):
            return Response(b"", status=304, headers=headers)
        return Response(self.body, content_type=self.content_type, headers=headers)


class DemoTokenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: PositiveId


def page_enabled(settings: Settings) -> bool:
    """The demo page is on with the demo directory (serve's default) or `--demo-page 1`."""
    return settings.demo or settings.demo_page


def minting_enabled(settings: Settings) -> bool:
    """Demo mode: demo on and tokens signed with the generated dev secret, nothing configured."""
    if not settings.demo or settings.jwt_public_key or settings.jwt_public_key_file:
        return False
    if settings.jwt_secret is None or "HS256" not in settings.algorithms:
        return False
    try:
        generated = (Path(settings.data_dir) / DEV_SECRET_FILE).read_text().strip()
    except OSError:
        return False
    return generated == settings.jwt_secret


def browser_routes(settings: Settings) -> Blueprint:
    """The blueprint for this configuration: routes that are off are simply not there (404)."""
    routes = Blueprint("browser", __name__)
    names = CLIENT_FILES + (DEMO_FILES if page_enabled(settings) else ())
    files = {name: StaticFile.read(name) for name in names}

    @routes.get("/static/<path:name>")
    @hide
    async def static_file(name: str) -> Response:
        found = files.get(name)
        if found is None or name == "index.html":  # the page itself only at /
            abort(404)
        return found.response()

    if page_enabled(settings):

        @routes.get("/")
        @hide
        async def demo_page() -> Response:
            return files["index.html"].response()

    if minting_enabled(settings):
        routes.get("/demo/users")(hide(demo_users))
        routes.post("/demo/token")(hide(demo_token))
    return routes


def _service():
    service = current_host().service
    if service is None:
        raise ActorUnavailable("starting")
    return service


async def demo_users() -> Response:
    """Every user of the directory, for the page's picker (demo mode only)."""
    users = _service().directory.data.users
    return json_response({"users": [_user(uid, users) for uid in sorted(users)]})


async def demo_token() -> Response:
    """A token for any user of the directory, what they see and where they talk (demo only)."""
    body = parse_body(DemoTokenRequest, await request.get_data())
    service = _service()
    directory = service.directory
    users = directory.data.users
    if body.user_id not in users:
        raise NotFound(body.user_id)
    # The service's wall clock: the one its token checks use (the testing kit's, too).
    now = service.context.clock.now()
    token = mint(current_host().settings, body.user_id, DEMO_TOKEN_TTL, now=now)
    expires_at = now + DEMO_TOKEN_TTL  # format_time floors it, as the token's `exp` is
    conversations = [
        {"conversation_id": cid, "participants": sorted(directory.participants(cid))}
        for cid in sorted(directory.conversations_of(body.user_id))
    ]
    return json_response({
        "token": token,
        "expires_at": format_time(expires_at),
        "user": _user(body.user_id, users),
        "users": [_user(uid, users) for uid in sorted(directory.visible(body.user_id))],
        "conversations": conversations,
    })


def _user(user_id: int, users) -> dict:
    return {"user_id": user_id, "display_name": users[user_id]}

