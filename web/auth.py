"""Bearer-token authentication (SPEC §3).

`TokenVerifier.verify` is pure and synchronous: signature, algorithm, `exp`, `aud`/`iss`,
and the shape of `sub`. Whether `sub` names a user in the directory is the second step,
`authenticate`, which asks the service (refreshing the directory once on a miss, so a
user imported a moment ago gets in).

Algorithm confusion is closed by construction: the token's header must name one of the
configured algorithms, and the key comes from the family of that algorithm — the HMAC
secret only ever verifies HS*, the public key only RS*/ES*/PS*. `none` is never accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jwt

from .config import ConfigError, Settings

_HMAC = frozenset({"HS256", "HS384", "HS512"})
_ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
)
_DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_USER_ID = 2**63 - 1


class AuthError(Exception):
    """401: the detail is safe to show the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token speaks for."""

    user_id: int
    session_id: str | None  # the `sid` claim, a default device id
    expires_at: float  # `exp`, wall-clock epoch seconds


class TokenVerifier:
    """Verifies tokens against a fixed algorithm list and key set."""

    def __init__(self, settings: Settings) -> None:
        self.algorithms = settings.algorithms
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.leeway = settings.jwt_leeway
        self._keys = _keys_for(settings)

    def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("Malformed token") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise AuthError("Token algorithm not accepted")
        try:
            claims = jwt.decode(
                token,
                self._keys[alg],
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self.audience is not None,
                    "verify_iss": self.issuer is not None,
                    "verify_sub": False,  # a number is allowed; checked below
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("Token has expired") from None
        except jwt.PyJWTError as error:
            raise AuthError(f"Invalid token: {error}") from None
        return Identity(_user_id(claims.get("sub")), _sid(claims.get("sid")), float(claims["exp"]))


def _keys_for(settings: Settings) -> dict[str, object]:
    algorithms = settings.algorithms
    if not algorithms:
        raise ConfigError("PRESENCE_JWT_ALGORITHMS is empty")
    public_key = settings.jwt_public_key
    if settings.jwt_public_key_file:
        public_key = Path(settings.jwt_public_key_file).read_text()
    keys: dict[str, object] = {}
    for alg in algorithms:
        if alg in _HMAC:
            if not settings.jwt_secret:
                raise ConfigError(f"{alg} needs PRESENCE_JWT_SECRET")
            keys[alg] = settings.jwt_secret
        elif alg in _ASYMMETRIC:
            if not public_key:
                raise ConfigError(f"{alg} needs PRESENCE_JWT_PUBLIC_KEY(_FILE)")
            keys[alg] = jwt.get_algorithm_by_name(alg).prepare_key(public_key)
        else:
            raise ConfigError(f"JWT algorithm {alg!r} is not supported")
    return keys


def _user_id(sub: object) -> int:
    """`sub` as a positive integer: 7 or "7", nothing else (no floats, signs or spaces)."""
    if isinstance(sub, bool):
        raise AuthError("Token subject is not a user id")
    if isinstance(sub, int):
        value = sub
    elif isinstance(sub, str) and sub.isascii() and sub.isdigit():
        value = int(sub)
    else:
        raise AuthError("Token subject is not a user id")
    if not 0 < value <= _MAX_USER_ID:
        raise AuthError("Token subject is not a user id")
    return value


def _sid(sid: object) -> str | None:
    return sid if isinstance(sid, str) else None


def valid_device_id(value: str) -> bool:
    return _DEVICE_ID.fullmatch(value) is not None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if that is what it is."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def authenticate(service, verifier: TokenVerifier, token: str | None) -> Identity:
    """A verified identity of a user in the directory, or AuthError."""
    if token is None:
        raise AuthError("Not authenticated")
    identity = verifier.verify(token)
    if not service.directory.exists(identity.user_id):
        await service.refresh_directory()
        if not service.directory.exists(identity.user_id):
            raise AuthError("Unknown user")
    return identity
