"""SPEC §3: every token failure is 401 with `WWW-Authenticate: Bearer`, before anything else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionRejected

from web.auth import AuthError, TokenVerifier
from web.config import ConfigError
from web.schemas import MAX_ID

from .conftest import SECRET, make_token, serving, test_settings


def _unsigned(claims: dict, alg: str = "none") -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."


def _rsa():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return key, public


def _claims(sub: object = "1", ttl: float = 300, **extra: object) -> dict:
    return {"sub": sub, "exp": int(time.time() + ttl), **extra}


def _signed_raw(payload: str, header: str = '{"alg":"HS256","typ":"JWT"}') -> str:
    """An HS256 token over raw JSON text: claims json.dumps cannot write (a 5,000-digit
    number) or that PyJWT would fix up."""
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = part(header.encode()) + "." + part(payload.encode())
    signature = hmac.new(SECRET.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + part(signature)


_EXP = int(time.time() + 300)


BAD_TOKENS = {
    "garbage": "not-a-jwt",
    "wrong secret": make_token(1, secret="another-secret-that-is-also-long-enough" * 2),
    "expired": make_token(1, ttl=-60),
    "alg none": _unsigned(_claims()),
    "alg None mixed case": _unsigned(_claims(), alg="None"),
    "wrong algorithm (HS512 when HS256 is configured)": make_token(1, algorithm="HS512"),
    "no exp": jwt.encode({"sub": "1"}, SECRET, algorithm="HS256"),
    "no sub": jwt.encode({"exp": int(time.time() + 60)}, SECRET, algorithm="HS256"),
    "sub not a number": make_token("ada"),
    "sub zero": make_token("0"),
    "sub negative": make_token(-1),
    "sub float": make_token(1.5),
    "sub with spaces": make_token(" 1"),
    "sub bool": make_token(True),
    "unknown user": make_token(999),
    # regressions (reliability audit §3): a 500 for the first two, accepted for the rest
    "sub of 5,000 digits": make_token("1" * 5000),
    "sub a 5,000-digit number": _signed_raw(f'{{"sub":{"1" * 5000},"exp":{_EXP}}}'),
    "sub with a leading zero": make_token("01"),
    "sub past 64 bits": make_token(str(2**63)),
    "exp as a string": jwt.encode({"sub": "1", "exp": str(_EXP)}, SECRET, algorithm="HS256"),
    "exp Infinity": _signed_raw('{"sub":"1","exp":Infinity}'),
    "exp NaN": _signed_raw('{"sub":"1","exp":NaN}'),
    "exp 1e400": _signed_raw('{"sub":"1","exp":1e400}'),
    "nbf as a string": make_token(1, nbf="0"),
    "header nested 3,000 deep": _signed_raw(
        f'{{"sub":"1","exp":{_EXP}}}', '{"alg":"HS256","x":' + "[" * 3000 + "]" * 3000 + "}"),
    "payload nested 3,000 deep": _signed_raw(
        f'{{"sub":"1","exp":{_EXP},"x":' + "[" * 3000 + "]" * 3000 + "}"),
}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
async def test_bad_tokens_are_401_with_www_authenticate_on_rest(server, name):
    token = BAD_TOKENS[name]
    async with server.client(None, Authorization=f"Bearer {token}") as client:
        response = await client.get("/api/presence/users")
        assert response.status_code == 401, name
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert isinstance(response.json()["detail"], str)


async def test_missing_or_non_bearer_authorization_is_401(server):
    async with server.client(None) as anonymous:
        for headers in [{}, {"Authorization": make_token(1)}, {"Authorization": "Basic eDp5"},
                        {"Authorization": "Bearer"}]:
            response = await anonymous.post("/api/presence/status", json={"status": "online"},
                                            headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.json() == {"detail": response.json()["detail"]}


async def test_auth_is_checked_before_the_body(server):
    async with server.client(None) as anonymous:
        response = await anonymous.post("/api/presence/status", content=b"not json")
        assert response.status_code == 401


async def test_sub_as_a_json_number_is_accepted(server):
    token = jwt.encode(_claims(sub=2), SECRET, algorithm="HS256")
    async with server.client(None, Authorization=f"Bearer {token}") as grace:
        response = await grace.post("/api/presence/status", json={"status": "online"})
        assert response.status_code == 200 and response.json()["user_id"] == 2


async def test_a_user_imported_after_start_is_let_in_at_once():
    """A denied lookup reloads the directory at once (SPEC §4), throttled to one reload per
    `directory_min_refresh`: at 0 the second request reloads again right after the first.
    No poll (`directory_poll=0`: only the 30 s reload), so nothing else can let them in."""
    from presence_actors import DirectoryData

    settings = test_settings(directory_min_refresh=0, directory_poll=0)
    async with serving(settings) as server, server.client(6) as newcomer:
        assert (await newcomer.get("/api/presence/users")).status_code == 401
        directory = server.store.directory
        server.store.directory = DirectoryData(
            users={**directory.users, 6: "Barbara"}, partnerships=directory.partnerships,
            circles=directory.circles, conversations=directory.conversations,
        )
        response = await newcomer.get("/api/presence/users")
        assert response.status_code == 200
        assert [p["user_id"] for p in response.json()] == [6]


async def test_audience_and_issuer_are_checked_when_configured():
    settings = test_settings(jwt_audience="presence", jwt_issuer="https://halext.org")
    async with serving(settings) as running:
        cases = {
            make_token(1, aud="presence", iss="https://halext.org"): 200,
            make_token(1, aud="other", iss="https://halext.org"): 401,
            make_token(1, aud="presence", iss="https://evil.example"): 401,
            make_token(1): 401,  # both missing
        }
        for token, status in cases.items():
            async with running.client(None, Authorization=f"Bearer {token}") as client:
                assert (await client.get("/api/presence/users")).status_code == status


async def test_rs256_and_es256_verify_with_the_public_key_and_refuse_confusion(tmp_path):
    rsa_key, rsa_public = _rsa()
    key_file = tmp_path / "public.pem"
    key_file.write_text(rsa_public)
    verifier = TokenVerifier(test_settings(jwt_secret=None, jwt_public_key_file=str(key_file),
                                           jwt_algorithms="RS256"))
    assert verifier.verify(jwt.encode(_claims(), rsa_key, algorithm="RS256")).user_id == 1
    # algorithm confusion: an HS256 token whose "secret" is the public key
    forged = _forge_hs256(_claims(), rsa_public.encode())
    with pytest.raises(AuthError, match="algorithm"):
        verifier.verify(forged)
    with pytest.raises(AuthError):
        verifier.verify(_unsigned(_claims()))

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    es = TokenVerifier(test_settings(jwt_secret=None, jwt_public_key=ec_public,
                                     jwt_algorithms="ES256"))
    assert es.verify(jwt.encode(_claims(sub="3"), ec_key, algorithm="ES256")).user_id == 3
    with pytest.raises(AuthError):  # an RS256 token against an ES256-only verifier
        es.verify(jwt.encode(_claims(), rsa_key, algorithm="RS256"))


async def test_mixed_hs_and_rs_keys_never_verify_one_family_with_the_others_key():
    rsa_key, rsa_public = _rsa()
    verifier = TokenVerifier(test_settings(jwt_public_key=rsa_public,
                                           jwt_algorithms="HS256,RS256"))
    assert verifier.verify(make_token(1)).user_id == 1
    assert verifier.verify(jwt.encode(_claims(), rsa_key, algorithm="RS256")).user_id == 1
    with pytest.raises(AuthError):
        verifier.verify(_forge_hs256(_claims(), rsa_public.encode()))


def test_a_verifier_without_the_key_its_algorithm_needs_does_not_start():
    with pytest.raises(ConfigError):
        TokenVerifier(test_settings(jwt_secret=None, jwt_algorithms="HS256"))
    with pytest.raises(ConfigError):
        TokenVerifier(test_settings(jwt_algorithms="RS256"))
    with pytest.raises(ConfigError):
        TokenVerifier(test_settings(jwt_algorithms="none"))


def _forge_hs256(claims: dict, key: bytes) -> str:
    """What an attacker would send: HMAC over the token with the public key as secret."""
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + part(
        json.dumps(claims).encode())
    signature = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + part(signature)


# --- the WebSocket: rejected with a plain HTTP response, before the upgrade ------------------


@pytest.mark.parametrize("name", ["garbage", "expired", "alg none", "unknown user",
                                  "wrong algorithm (HS512 when HS256 is configured)",
                                  "sub of 5,000 digits", "exp as a string"])
async def test_websocket_with_a_bad_token_is_http_401_before_the_upgrade(server, name):
    with pytest.raises(ConnectionRejected) as rejected:
        async with server.subscribe(token=BAD_TOKENS[name]):
            pytest.fail("upgraded with a bad token")
    assert rejected.value.status_code == 401
    headers = {k.lower(): v for k, v in rejected.value.headers}
    assert headers[b"www-authenticate"] == b"Bearer"
    assert json.loads(rejected.value.body)["detail"]


async def test_websocket_without_any_token_is_401(server):
    from trio_websocket import open_websocket_url

    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(server.ws_url):
            pytest.fail("upgraded without a token")
    assert rejected.value.status_code == 401


# --- any claims at all: an identity or a 401, never another exception ----------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats()
    | st.text(max_size=12) | st.from_regex(r"0*[0-9]{1,25}", fullmatch=True),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=6,
)
_VERIFIER = TokenVerifier(test_settings())


_LIVE = st.integers(int(time.time()) + 60, int(time.time()) + 10**6)
_CLAIMS = st.fixed_dictionaries(
    {"sub": _JSON | st.integers(0, 2**64), "exp": _JSON | _LIVE | _LIVE.map(str)},
    optional={name: _JSON for name in ("nbf", "iat", "sid", "aud")},
)


@settings(max_examples=300, deadline=None, database=None)
@given(claims=_CLAIMS)
def test_verify_gives_an_identity_or_auth_error_for_any_claims(claims):
    try:
        identity = _VERIFIER.verify(jwt.encode(claims, SECRET, algorithm="HS256"))
    except AuthError:
        return
    assert 0 < identity.user_id <= MAX_ID
    assert str(identity.user_id) == str(claims["sub"])  # canonical: no "01", no " 1"
    assert type(claims["exp"]) in (int, float)


# --- remembered tokens ----------------------------------------------------------------------


def test_a_remembered_token_is_not_decoded_again_but_its_times_still_count(monkeypatch):
    verifier = TokenVerifier(test_settings(jwt_leeway=0))
    now = time.time()
    token = jwt.encode({"sub": "3", "exp": int(now) + 60, "nbf": int(now) - 5}, SECRET,
                       algorithm="HS256")
    decodes = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **kw: decodes.append(1) or real(*a, **kw))
    assert verifier.verify(token, now).user_id == 3
    assert verifier.verify(token, now + 30).user_id == 3
    assert len(decodes) == 1  # the second time: only the times were checked
    with pytest.raises(AuthError, match="Token has expired"):
        verifier.verify(token, now + 61)
    with pytest.raises(AuthError, match="not yet valid"):
        verifier.verify(token, now - 10)


def test_a_token_that_failed_is_not_remembered_and_passes_once_it_is_valid():
    verifier = TokenVerifier(test_settings(jwt_leeway=0))
    now = time.time()
    early = jwt.encode({"sub": "3", "exp": int(now) + 60, "nbf": int(now) + 10}, SECRET,
                       algorithm="HS256")
    with pytest.raises(AuthError, match="not yet valid"):
        verifier.verify(early, now)
    assert verifier.verify(early, now + 20).user_id == 3
    bad = jwt.encode({"sub": "03", "exp": int(now) + 60}, SECRET, algorithm="HS256")
    for _ in range(2):
        with pytest.raises(AuthError, match="not a user id"):
            verifier.verify(bad, now)


def test_remembered_tokens_are_bounded(monkeypatch):
    monkeypatch.setattr("web.auth.REMEMBERED", 8)
    verifier = TokenVerifier(test_settings())
    tokens = [make_token(user) for user in range(1, 21)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._verified) == 8
    assert set(verifier._verified) == set(tokens[-8:])  # the oldest were forgotten
