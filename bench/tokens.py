"""Bearer tokens for the load: HS256 with the secret the bench hands the server."""

from __future__ import annotations

import functools
import secrets
import time

import jwt

SECRET = "bench-" + secrets.token_urlsafe(32)  # per run; 32+ bytes (PyJWT warns below)


@functools.cache
def token(user_id: int, secret: str = SECRET, ttl: int = 7200) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "iat": now, "exp": now + ttl}, secret, "HS256")


def subscribe_path(user_id: int, device: str = "bench", secret: str = SECRET) -> str:
    return f"/api/presence/subscribe?token={token(user_id, secret)}&device_id={device}"


def auth(user_id: int, device: str = "bench", secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id, secret)}", "X-Device-ID": device}
