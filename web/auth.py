"""Bearer-token authentication (SPEC §3).

`TokenVerifier.verify` is pure and synchronous: signature, algorithm, `exp`, `aud`/`iss`,
and the shape of `sub`. Whether `sub` names a user in the directory is the second step,
`authenticate`, which asks the service (refreshing the directory once on a miss, so a
user imported a moment ago gets in).

A token that verified is remembered (`REMEMBERED` of them, the oldest forgotten first), so
the next request with it only has its times checked again: everything else `verify` checks
depends on the token and the fixed keys alone, not on the time, and decoding and the HMAC
were 10-15 % of a status POST's CPU (py-spy, docs/benchmarks.md). A token that failed is
not remembered: it costs the full check every time, as before.

Algorithm confusion is closed by construction: the token's header must name one of the
configured algorithms, and the key comes from the family of that algorithm (`web.keys`) —
the HMAC secret only ever verifies HS*, a public key only its own family. `none` is never
accepted. Claims are checked for shape without trusting their size: a 5,000-digit `sub`
or an `exp` of 1e400 is a 401 like any other bad token.

`device_key` is the one resolution of the device a request speaks for, REST and WebSocket.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import jwt

from .config import Settings
from .keys import verification_keys
from .schemas import MAX_ID, device_issue, id_from_text

_DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_NUMERIC_DATES = ("exp", "nbf", "iat")
REMEMBERED = 4096  # verified tokens kept (~0.4 KB each: 1.6 MB at most)


class AuthError(Exception):
    """401: the detail is safe to show the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token speaks for."""

    user_id: int
    session_id: object  # the raw `sid` claim (None: absent); `device_key` checks it when used
    expires_at: float  # `exp`, wall-clock epoch seconds


class TokenVerifier:
    """Verifies tokens against a fixed algorithm list and key set."""

    def __init__(self, settings: Settings) -> None:
        """Raises:
            ConfigError: an algorithm without its key, or a key that cannot be used.
        """
        self.algorithms = settings.algorithms
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.leeway = settings.jwt_leeway
        self._keys = verification_keys(settings)
        self._verified: dict[str, tuple[dict, Identity]] = {}  # token -> (times, identity)
        self._options = {
            "require": ["exp", "sub"],
            "verify_aud": self.audience is not None,
            "verify_iss": self.issuer is not None,
            "verify_sub": False,  # a number is allowed; `_user_id` checks it
            # exp/nbf/iat are checked by `_check_times` against the service's clock
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        }

    def verify(self, token: str, now: float | None = None) -> Identity:
        """The identity a token carries, its times checked at `now` (epoch seconds).

        `now` is the service's `WallClock` (SPEC §10: one clock for every wall-clock time,
        so the session's 4401 deadline and this check agree, on `MockClock` too); the
        system clock when None.

        Raises:
            AuthError: anything wrong with the token (401), never another exception.
        """
        now = time.time() if now is None else now
        known = self._verified.get(token)
        if known is not None:
            times, identity = known
            _check_times(times, now, self.leeway)
            return identity
        times, identity = self._verify(token, now)
        verified = self._verified
        if len(verified) >= REMEMBERED:
            del verified[next(iter(verified))]
        verified[token] = times, identity
        return identity

    def _verify(self, token: str, now: float) -> tuple[dict, Identity]:
        """Every check, in order; the time claims and the identity."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("Malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AuthError("Token algorithm not accepted")
        try:
            claims = jwt.decode(token, self._keys[alg], algorithms=[alg],
                                audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway, options=self._options)
        except jwt.PyJWTError as error:
            raise AuthError(f"Invalid token: {error}") from None
        _check_numeric_dates(claims)
        _check_times(claims, now, self.leeway)
        identity = Identity(_user_id(claims.get("sub")), claims.get("sid"), float(claims["exp"]))
        return {name: claims[name] for name in _NUMERIC_DATES if name in claims}, identity


def _check_numeric_dates(claims: dict) -> None:
    """`exp`/`nbf`/`iat` are JSON numbers (RFC 7519 NumericDate); PyJWT takes "123" too."""
    for name in _NUMERIC_DATES:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise AuthError(f"Invalid token: {name} must be a number (NumericDate)")


def _check_times(claims: dict, now: float, leeway: float) -> None:
    """PyJWT's exp / nbf / iat rules and messages, at `now` instead of the system clock."""
    if claims["exp"] <= now - leeway:
        raise AuthError("Token has expired")
    for name in ("nbf", "iat"):
        if name in claims and claims[name] > now + leeway:
            raise AuthError(f"Invalid token: The token is not yet valid ({name})")


def _user_id(sub: object) -> int:
    """`sub` as a positive 64-bit integer: 7 or "7"; no floats, signs, spaces or leading zeros.

    A string is checked for length before it is parsed: a 5,000-digit `sub` is a 401,
    not the 500 of Python's int-string limit.
    """
    value: int | None = None
    if isinstance(sub, int) and not isinstance(sub, bool):
        value = sub if 0 < sub <= MAX_ID else None
    elif isinstance(sub, str) and not sub.startswith("0"):
        value = id_from_text(sub)
    if value is None:
        raise AuthError("Token subject is not a user id")
    return value


def valid_device_id(value: str) -> bool:
    return _DEVICE_ID.fullmatch(value) is not None


def device_key(identity: Identity, header: str | None, query: str | None = None) -> str:
    """The device a request speaks for (SPEC §5), for REST and the WebSocket alike.

    The `X-Device-ID` header, else the WebSocket's `device_id` query parameter, else the
    token's `sid` claim, else "default". The first source present decides: a malformed
    one is a 422 naming it, never a quiet fall-back to the next, which would merge a
    user's devices into one.

    Raises:
        RequestInvalid: the deciding source is not 1-64 characters of [A-Za-z0-9._-];
            `loc` is ["header", "X-Device-ID"], ["query", "device_id"] or ["token", "sid"].
    """
    sources = ((header, ["header", "X-Device-ID"]), (query, ["query", "device_id"]),
               (identity.session_id, ["token", "sid"]))
    for value, where in sources:
        if value is None:
            continue
        if isinstance(value, str) and valid_device_id(value):
            return value
        raise device_issue(where)
    return "default"


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
    """A verified identity of a user in the directory.

    Raises:
        AuthError: no token, a bad one, or a user the directory does not know (after one
            refresh, so a user imported a moment ago gets in).
    """
    if token is None:
        raise AuthError("Not authenticated")
    identity = verifier.verify(token, service.context.clock.now())
    if not service.directory.exists(identity.user_id):
        await service.refresh_directory()
        if not service.directory.exists(identity.user_id):
            raise AuthError("Unknown user")
    return identity
