"""Minting tokens (`presence-actors token`) and the banner's hint of how to get one.

HMAC tokens are signed with the configured (or dev) secret and the first HS* algorithm
the server accepts; with a private key, with the algorithm of that key's family
(`web.keys.signing_algorithm`). The hint is a command that works as printed: what the
server was given on the command line is repeated as flags, what it read from the
environment `token` reads from the same variables — and when the server only verifies
public-key signatures, it says why no command here can mint a token.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jwt
import trio

from .config import ConfigError, Settings
from .keys import ASYMMETRIC, HMAC, signing_algorithm

_DEFAULTS = Settings()
_LOOKUP_TIMEOUT = 5.0


def claims_for(settings: Settings, user_id: int, ttl: float, sid: str | None,
               now: float) -> dict[str, object]:
    claims: dict[str, object] = {"sub": str(user_id), "iat": int(now), "exp": int(now + ttl)}
    if sid:
        claims["sid"] = sid
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return claims


def mint(settings: Settings, user_id: int, ttl: float, sid: str | None = None,
         private_key: object | None = None, now: float | None = None) -> str:
    """A signed token for `user_id`, valid for `ttl` seconds.

    Raises:
        ConfigError: no private key given and no HS* algorithm with a secret configured.
    """
    claims = claims_for(settings, user_id, ttl, sid, time.time() if now is None else now)
    if private_key is not None:
        return jwt.encode(claims, private_key,
                          algorithm=signing_algorithm(private_key, settings.algorithms))
    algorithm = next((a for a in settings.algorithms if a in HMAC), None)
    if algorithm is None or not settings.jwt_secret:
        accepted = ",".join(settings.algorithms)
        raise ConfigError(f"PRESENCE_JWT_ALGORITHMS={accepted} has no HS* algorithm with a "
                          f"secret: sign with the private key (--private-key FILE)")
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm)


@dataclass(frozen=True)
class TokenHint:
    command: str | None  # a shell command that prints a working token, or None
    note: str  # what it does, or why there is none


COMMAND_LINE, ENVIRONMENT = "command line", "environment"


def token_hint(settings: Settings, cli: str, sources: Mapping[str, str]) -> TokenHint:
    """How to get a token for user 1 of the server `settings` describe.

    `sources`: where each setting that was given came from (COMMAND_LINE or ENVIRONMENT);
    a secret that came from neither is the dev secret in the data dir.
    """
    hmac = [a for a in settings.algorithms if a in HMAC]
    if not hmac or not settings.jwt_secret:
        public = ",".join(a for a in settings.algorithms if a in ASYMMETRIC)
        return TokenHint(None, f"this server accepts only {public} tokens, signed with a "
                               f"private key it does not have; its holder can mint one with "
                               f"`{cli} token 1 --private-key KEY.pem` (then TOKEN=...)")
    words = [cli, "token", "1"]
    if settings.data_dir != _DEFAULTS.data_dir:
        words += ["--data-dir", settings.data_dir]
    for name in ("database_url", "jwt_secret"):  # secrets: repeated only if typed there
        if sources.get(name) == COMMAND_LINE:
            words += ["--" + name.replace("_", "-"), getattr(settings, name)]
    if settings.jwt_algorithms != _DEFAULTS.jwt_algorithms:
        words += ["--jwt-algorithms", hmac[0]]
    for name in ("jwt_audience", "jwt_issuer"):
        if getattr(settings, name):
            words += ["--" + name.replace("_", "-"), getattr(settings, name)]
    note = "prints a bearer token for user 1"
    if sources.get("jwt_secret") == ENVIRONMENT:
        note += " (reads PRESENCE_JWT_SECRET from the environment, as this server did)"
    return TokenHint(shlex.join(words), note)


def directory_warning(settings: Settings, user_id: int) -> str | None:
    """Why a token for `user_id` would be refused ("Unknown user"), if the directory says so.

    Looks in the configured store, bounded in time; says so when it cannot look, and
    never creates the default SQLite file just to look.
    """
    import storage

    default_file = Path(settings.data_dir) / "presence.db"
    if settings.database_url is None and not default_file.exists():
        return (f"note: no directory yet at {default_file} (`serve` creates it and imports "
                f"the demo users 1-6)")
    url = settings.store_url
    try:
        directory = trio.run(_export_within, storage.export_directory, url)
    except (storage.StoreUnavailable, ValueError, OSError, trio.TooSlowError) as error:
        return f"warning: could not check the directory: {error or 'no answer in time'}"
    if user_id not in {user["id"] for user in directory.get("users", [])}:
        return (f"warning: user {user_id} is not in the directory at "
                f"{storage.parse_url(url).redacted()}: the server will answer 401 Unknown user")
    return None


async def _export_within(export, url: str) -> dict:
    with trio.fail_after(_LOOKUP_TIMEOUT):
        return await export(url)
