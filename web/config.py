"""Service settings (SPEC §12): one frozen dataclass, read from `PRESENCE_*` or CLI flags.

`SETTINGS` is the single table of names: the CLI builds a flag with `envvar=` from each
entry, `from_env` reads the same variables when hypercorn imports `create_app()`, and
docs/configuration.md lists them. Durations are seconds.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path

from presence_actors import Timing


class ConfigError(ValueError):
    """A setting that cannot work (a missing key, an unknown algorithm)."""


@dataclass(frozen=True)
class SettingSpec:
    name: str  # Settings field
    kind: type
    help: str

    @property
    def env(self) -> str:
        return "PRESENCE_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("host", str, "listen address"),
    SettingSpec("port", int, "listen port (0 picks a free one)"),
    SettingSpec("data_dir", str, "directory for the dev JWT secret and the SQLite file"),
    SettingSpec("database_url", str, "store: postgresql://..., sqlite:///path or memory://"
                " (unset: sqlite:///<data dir>/presence.db)"),
    SettingSpec("jwt_secret", str, "HS* secret (unset: a dev secret generated in the data dir)"),
    SettingSpec("jwt_public_key", str, "PEM public key(s) for RS*/PS*/ES*/EdDSA, one per "
                "algorithm family (e.g. an RSA and an EC key for RS256,ES256)"),
    SettingSpec("jwt_public_key_file", str, "file holding the PEM public key(s)"),
    SettingSpec("jwt_algorithms", str, "accepted JWT algorithms, comma-separated"),
    SettingSpec("jwt_audience", str, "required `aud` claim (unchecked when unset)"),
    SettingSpec("jwt_issuer", str, "required `iss` claim (unchecked when unset)"),
    SettingSpec("jwt_leeway", float, "clock skew allowed on exp/nbf/iat, seconds"),
    SettingSpec("online_ttl", float, "lifetime of an online device after its last activity"),
    SettingSpec("away_ttl", float, "lifetime of an away device after its last activity"),
    SettingSpec("disconnect_grace", float, "how long an online device outlives its last socket"),
    SettingSpec("status_min_interval", float, "minimum seconds between status updates per device"),
    SettingSpec("typing_ttl", float, "typing indicator lifetime without a refresh"),
    SettingSpec("typing_burst", int, "typing requests allowed in a burst per (user, conversation)"),
    SettingSpec("typing_rate", float, "typing requests per second per (user, conversation)"),
    SettingSpec("max_sockets_per_user", int, "open WebSockets allowed per user"),
    SettingSpec("max_devices_per_user", int, "live devices per user; a new one beyond is 429"),
    SettingSpec("user_status_burst", int, "status updates allowed in a burst per user"),
    SettingSpec("user_status_rate", float, "status updates per second per user, sustained"),
    SettingSpec("request_timeout", float, "deadline for an actor's reply, then 503"),
    SettingSpec("mailbox_size", int, "bounded inbox of each actor"),
    SettingSpec("directory_poll", float, "read the store's directory version this often and "
                "reload the directory when it moved (0: never; reload every directory_refresh)"),
    SettingSpec("directory_refresh", float, "directory reload period when the store has no "
                "directory version or directory_poll is 0"),
    SettingSpec("directory_min_refresh", float,
                "a denied lookup reloads the directory at once, at most this often"),
    SettingSpec("ws_ping_interval", float, "seconds between protocol pings on each WebSocket"),
    SettingSpec("dead_peer_timeout", float, "close a connection that sent nothing for this long"),
    SettingSpec("write_timeout", float, "close a WebSocket (1013) that cannot take a write"),
    SettingSpec("close_timeout", float, "wait for a close frame to go out and be answered"),
    SettingSpec("ws_frame_rate", float, "client frames per second per WebSocket (0: no limit)"),
    SettingSpec("ws_frame_burst", int, "client frames a WebSocket may send at once"),
    SettingSpec("max_sockets", int, "open WebSockets on this node (0: from the fd limit)"),
    SettingSpec("backlog", int, "connections the kernel queues before they are accepted"),
    SettingSpec("shutdown_timeout", float, "bound on closing sockets and flushing at shutdown"),
    SettingSpec("startup_timeout", float, "bound on opening the store at start, then exit 1"),
    SettingSpec("demo", bool, "import the demo directory when the directory is empty"),
    SettingSpec("demo_page", bool, "serve the demo page at / (always on when demo is)"),
    SettingSpec("access_log", bool, "write one access log line per request to stderr"),
    SettingSpec("workers", int, "processes on one port, one cluster node each (> 1 needs Redis)"),
    SettingSpec("redis_url", str, "join the cluster on this Redis: redis://host:port/db?prefix=NAME"),
    SettingSpec("node_ttl", float, "a cluster node silent this long is dead"),
)

DEV_SECRET_FILE = "jwt-secret"
MAX_BODY_BYTES = 4096
MAX_FRAME_BYTES = 4096


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = ".presence"
    database_url: str | None = None  # default: sqlite:///<data_dir>/presence.db
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_public_key_file: str | None = None
    jwt_algorithms: str = "HS256"
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway: float = 10.0
    online_ttl: float = 60.0
    away_ttl: float = 600.0
    disconnect_grace: float = 10.0
    status_min_interval: float = 5.0
    typing_ttl: float = 5.0
    typing_burst: int = 5
    typing_rate: float = 1.0
    max_sockets_per_user: int = 20
    max_devices_per_user: int = 20
    user_status_burst: int = 10
    user_status_rate: float = 1.0
    request_timeout: float = 5.0
    mailbox_size: int = 256
    directory_poll: float = 0.5
    directory_refresh: float = 30.0
    directory_min_refresh: float = 1.0
    ws_ping_interval: float = 15.0
    dead_peer_timeout: float = 45.0
    write_timeout: float = 30.0
    close_timeout: float = 1.0
    ws_frame_rate: float = 20.0
    ws_frame_burst: int = 40
    max_sockets: int = 0
    backlog: int = 4096
    shutdown_timeout: float = 10.0
    startup_timeout: float = 30.0
    demo: bool = False
    demo_page: bool = False
    access_log: bool = False
    workers: int = 1
    redis_url: str | None = None
    node_ttl: float = 10.0
    listen_fd: int | None = None  # not a setting: a worker's inherited listening socket

    @property
    def bind(self) -> str:
        """What hypercorn binds: host:port, or the socket `serve --workers` handed down."""
        if self.listen_fd is not None:
            return f"fd://{self.listen_fd}"
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `PRESENCE_*` variables (what the hypercorn CLI's app uses)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for spec in SETTINGS:
            raw = environ.get(spec.env)
            if raw is not None and raw != "":
                values[spec.name] = parse_value(spec, raw)
        values.update(overrides)
        return cls(**values)

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir).resolve()}/presence.db"

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.jwt_algorithms.split(",") if a.strip())

    def timing(self) -> Timing:
        """The core's timing knobs, from the settings of the same name."""
        names = {f.name for f in fields(Timing)}
        return Timing(**{n: getattr(self, n) for n in names if hasattr(self, n)})

    def prepare_data_dir(self) -> None:
        """The default SQLite file lives in the data dir: make sure it exists.

        Raises:
            ConfigError: the directory cannot be created.
        """
        if self.database_url is None:
            with _data_dir_errors(self.data_dir):
                Path(self.data_dir).mkdir(parents=True, exist_ok=True)

    def with_dev_secret(self) -> Settings:
        """Fill in the dev HS256 secret (created once, 0600, in the data dir) if none is set.

        Raises:
            ConfigError: the secret file cannot be read or created.
        """
        if self.jwt_secret or self.jwt_public_key or self.jwt_public_key_file:
            return self
        with _data_dir_errors(self.data_dir):
            return replace(self, jwt_secret=dev_secret(Path(self.data_dir)))


@contextmanager
def _data_dir_errors(data_dir: str) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise ConfigError(f"PRESENCE_DATA_DIR: cannot use {data_dir}: "
                          f"{error.strerror or error}") from None


def parse_value(spec: SettingSpec, raw: str) -> object:
    if spec.kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{spec.env}: expected 1/0, got {raw!r}")
    try:
        return spec.kind(raw)
    except ValueError:
        raise ConfigError(f"{spec.env}: expected {spec.kind.__name__}, got {raw!r}") from None


def dev_secret(data_dir: Path) -> str:
    """The development HS256 secret: generated on first use, then read back (mode 0600)."""
    path = data_dir / DEV_SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret
