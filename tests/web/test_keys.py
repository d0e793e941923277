"""Public keys, one per algorithm family (SPEC §3; configuration.md "Keys").

Regression (both audits): `PRESENCE_JWT_ALGORITHMS=RS256,ES256` crashed start-up with
"Expected one of <generator object ...>", since only one key could be configured; a bad
PEM or a missing key file was a traceback instead of a line naming the setting.
"""

from __future__ import annotations

import datetime
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from web.auth import AuthError, TokenVerifier
from web.config import ConfigError
from web.keys import load_private_key, signing_algorithm

from .conftest import test_settings

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def _public_pem(key) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _private_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _certificate_pem(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(1).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _token(key, algorithm: str, sub: str = "1") -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time() + 60)}, key, algorithm=algorithm)


def _verifier(algorithms: str, **keys: object) -> TokenVerifier:
    return TokenVerifier(test_settings(jwt_secret=None, jwt_algorithms=algorithms, **keys))


def test_regression_rs256_and_es256_each_verify_with_their_own_key_from_one_setting():
    verifier = _verifier("RS256,ES256", jwt_public_key=_public_pem(RSA_KEY) + _public_pem(EC_KEY))
    assert verifier.verify(_token(RSA_KEY, "RS256", "1")).user_id == 1
    assert verifier.verify(_token(EC_KEY, "ES256", "2")).user_id == 2
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthError):
        verifier.verify(_token(stranger, "RS256"))


def test_a_certificate_and_an_ed25519_key_serve_their_families(tmp_path):
    key_file = tmp_path / "keys.pem"
    key_file.write_text(_certificate_pem(RSA_KEY) + _public_pem(ED_KEY))
    verifier = _verifier("PS256,EdDSA", jwt_public_key_file=str(key_file))
    assert verifier.verify(_token(RSA_KEY, "PS256")).user_id == 1
    assert verifier.verify(_token(ED_KEY, "EdDSA")).user_id == 1


@pytest.mark.parametrize("algorithms, pem, message", [
    ("RS256,ES256", _public_pem(RSA_KEY), "no key for ES256 (it holds: RSA 2048-bit)"),
    ("ES384", _public_pem(EC_KEY), "no key for ES384 (it holds: EC secp256r1)"),
    ("RS256", _public_pem(RSA_KEY) * 2, "2 keys for RS256"),
    ("RS256", "not a pem", "PRESENCE_JWT_PUBLIC_KEY: no PEM public key found"),
    ("RS256", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
     "PRESENCE_JWT_PUBLIC_KEY: PEM block 1 (PUBLIC KEY) is not a usable public key"),
    ("RS256", _private_pem(RSA_KEY), "PEM block 1 is a private key"),
    ("RS256,XS1", _public_pem(RSA_KEY), "PRESENCE_JWT_ALGORITHMS: 'XS1' is not supported"),
    (" , ", _public_pem(RSA_KEY), "PRESENCE_JWT_ALGORITHMS: empty"),
])
def test_a_key_that_cannot_serve_is_one_line_naming_the_setting(algorithms, pem, message):
    with pytest.raises(ConfigError) as error:
        _verifier(algorithms, jwt_public_key=pem)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_key_file_or_two_key_settings_are_config_errors(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match=f"PRESENCE_JWT_PUBLIC_KEY_FILE: cannot read {missing}"):
        _verifier("RS256", jwt_public_key_file=str(missing))
    missing.write_text(_public_pem(RSA_KEY))
    with pytest.raises(ConfigError, match="both set"):
        _verifier("RS256", jwt_public_key_file=str(missing), jwt_public_key=_public_pem(RSA_KEY))


def test_a_private_key_signs_with_its_family_or_the_first_configured_fit(tmp_path):
    assert signing_algorithm(RSA_KEY, ("HS256",)) == "RS256"
    assert signing_algorithm(RSA_KEY, ("HS256", "PS384")) == "PS384"
    assert signing_algorithm(ec.generate_private_key(ec.SECP384R1()), ()) == "ES384"
    assert signing_algorithm(ED_KEY, ()) == "EdDSA"
    key_file = tmp_path / "private.pem"
    key_file.write_text(_public_pem(RSA_KEY))
    with pytest.raises(ConfigError, match=r"--private-key: .* is not an unencrypted PEM"):
        load_private_key(str(key_file))
