"""JWT keys: which key verifies which algorithm, and which algorithm a private key signs.

SPEC §3 allows HS* with a shared secret and RS*/PS*/ES*/EdDSA with public keys. The
public-key setting may hold several PEM blocks (public keys or certificates), one per
algorithm family: an RSA key serves RS*/PS*, an EC key the ES* of its curve, an Ed25519 or
Ed448 key EdDSA. Every configured algorithm must find exactly one key of its family, or
start-up stops with a line naming the setting — never a traceback.

Keeping the families apart is what closes algorithm confusion: the HMAC secret only ever
verifies HS*, a public key only the asymmetric family it belongs to.
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from .config import ConfigError, Settings

HMAC = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)
PUBLIC_KEY = "PRESENCE_JWT_PUBLIC_KEY"
PUBLIC_KEY_FILE = "PRESENCE_JWT_PUBLIC_KEY_FILE"


def fits(algorithm: str, public_key: object) -> bool:
    """Whether `public_key` belongs to the family that verifies `algorithm`."""
    if algorithm[:2] in ("RS", "PS"):
        return isinstance(public_key, rsa.RSAPublicKey)
    if algorithm in _EC_CURVES:
        return (isinstance(public_key, ec.EllipticCurvePublicKey)
                and public_key.curve.name == _EC_CURVES[algorithm])
    if algorithm == "EdDSA":
        return isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    return False


def describe(public_key: object) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size}-bit"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}"
    return type(public_key).__name__.removeprefix("_").replace("PublicKey", "")


def verification_keys(settings: Settings) -> dict[str, object]:
    """The key for each configured algorithm.

    Raises:
        ConfigError: no algorithm, an unknown one, or one without exactly one key.
    """
    algorithms = settings.algorithms
    if not algorithms:
        raise ConfigError("PRESENCE_JWT_ALGORITHMS: empty; name at least one, e.g. HS256")
    unknown = [a for a in algorithms if a not in HMAC | ASYMMETRIC]
    if unknown:
        raise ConfigError(f"PRESENCE_JWT_ALGORITHMS: {unknown[0]!r} is not supported; "
                          f"use HS256/384/512, RS*, PS*, ES256/384/512 or EdDSA")
    keys: dict[str, object] = {}
    public_keys = _configured_public_keys(settings) if ASYMMETRIC & set(algorithms) else []
    for algorithm in algorithms:
        if algorithm in HMAC:
            if not settings.jwt_secret:
                raise ConfigError(f"{algorithm} needs PRESENCE_JWT_SECRET")
            keys[algorithm] = settings.jwt_secret
        else:
            keys[algorithm] = _one_key_for(algorithm, public_keys, settings)
    return keys


def _one_key_for(algorithm: str, public_keys: list, settings: Settings) -> object:
    if not public_keys:
        raise ConfigError(f"{algorithm} needs {PUBLIC_KEY} or {PUBLIC_KEY_FILE} (PEM)")
    matching = [key for key in public_keys if fits(algorithm, key)]
    source = _key_source(settings)
    if len(matching) != 1:
        found = ", ".join(describe(key) for key in public_keys)
        problem = "no key" if not matching else f"{len(matching)} keys"
        raise ConfigError(f"{source}: {problem} for {algorithm} (it holds: {found}); "
                          f"give one key per algorithm family")
    return matching[0]


def _key_source(settings: Settings) -> str:
    if settings.jwt_public_key_file:
        return f"{PUBLIC_KEY_FILE} ({settings.jwt_public_key_file})"
    return PUBLIC_KEY


def _configured_public_keys(settings: Settings) -> list:
    if settings.jwt_public_key and settings.jwt_public_key_file:
        raise ConfigError(f"{PUBLIC_KEY} and {PUBLIC_KEY_FILE} are both set; use one")
    text = settings.jwt_public_key
    if settings.jwt_public_key_file:
        text = read_key_file(settings.jwt_public_key_file, PUBLIC_KEY_FILE)
    return public_keys_from_pem(text, _key_source(settings)) if text else []


def read_key_file(path: str, setting: str) -> str:
    """Raises:
        ConfigError: the file cannot be read (naming `setting` and the reason).
    """
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(f"{setting}: cannot read {path}: {reason}") from None


def public_keys_from_pem(text: str, source: str) -> list:
    """Every public key (or certificate's key) in `text`, in order.

    Raises:
        ConfigError: no PEM block, a private key, or a block that is not a readable key.
    """
    blocks = list(_PEM_BLOCK.finditer(text))
    if not blocks:
        raise ConfigError(f"{source}: no PEM public key found "
                          f"(expected -----BEGIN PUBLIC KEY----- ...)")
    keys = []
    for number, block in enumerate(blocks, start=1):
        label, data = block.group(1), block.group(0).encode()
        if "PRIVATE" in label:
            raise ConfigError(f"{source}: PEM block {number} is a private key; "
                              f"configure the public key only")
        try:
            if label == "CERTIFICATE":
                keys.append(x509.load_pem_x509_certificate(data).public_key())
            else:
                keys.append(serialization.load_pem_public_key(data))
        except (ValueError, UnsupportedAlgorithm) as error:
            raise ConfigError(f"{source}: PEM block {number} ({label}) is not a usable "
                              f"public key: {error}") from None
    return keys


def load_private_key(path: str, option: str = "--private-key") -> object:
    """A PEM private key (unencrypted) for minting tokens.

    Raises:
        ConfigError: the file cannot be read or holds no usable private key.
    """
    data = read_key_file(path, option).encode()
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise ConfigError(f"{option}: {path} is not an unencrypted PEM private key "
                          f"({error})") from None


def signing_algorithm(private_key: object, algorithms: tuple[str, ...]) -> str:
    """The first configured algorithm `private_key` can sign, else its family's usual one.

    Raises:
        ConfigError: a key type no JWT algorithm uses.
    """
    public_key = private_key.public_key()
    for algorithm in algorithms:
        if algorithm in ASYMMETRIC and fits(algorithm, public_key):
            return algorithm
    for algorithm in ("RS256", "ES256", "ES384", "ES512", "EdDSA"):
        if fits(algorithm, public_key):
            return algorithm
    raise ConfigError(f"--private-key: a {describe(public_key)} key signs no JWT algorithm")
