"""`presence-actors`: serve, migrate, mint a token, import and export the directory.

Every setting of `config.SETTINGS` is a flag of `serve` with its `PRESENCE_*` variable as
`envvar`, so `serve --help` is the configuration reference. With no configuration at all
`serve` keeps a SQLite file and a generated dev secret under ./.presence/ and imports the
demo directory when the directory is empty.

SIGINT / SIGTERM: sockets close with 1001, hypercorn stops listening, the actors stop and
the store flushes; the process exits 0.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import time
from functools import partial
from pathlib import Path

import click
import jwt
import orjson
import trio
from hypercorn.utils import LifespanFailureError

from .config import SETTINGS, ConfigError, Settings

log = logging.getLogger("web")

_CLICK_TYPES = {str: click.STRING, int: click.INT, float: click.FLOAT, bool: click.BOOL}
_DEFAULTS = Settings()


def _settings_options(names: set[str] | None = None, **defaults: object):
    """Decorator: one click option per setting (flag and `PRESENCE_*` variable)."""

    def decorate(command):
        for spec in reversed(SETTINGS):
            if names is not None and spec.name not in names:
                continue
            shown = defaults.get(spec.name, getattr(_DEFAULTS, spec.name))
            command = click.option(
                spec.flag,
                spec.name,
                envvar=spec.env,
                type=_CLICK_TYPES[spec.kind],
                default=None,
                show_envvar=True,
                help=f"{spec.help}" + (f" [default: {shown}]" if shown not in (None, "") else ""),
            )(command)
        return command

    return decorate


def _settings(options: dict, **defaults: object) -> Settings:
    values = {**defaults, **{k: v for k, v in options.items() if v is not None}}
    return Settings(**values).with_dev_secret()


@click.group()
@click.option("--log-level", envvar="PRESENCE_LOG_LEVEL", default="INFO", show_envvar=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def main(log_level: str) -> None:
    """Realtime presence service: REST + WebSocket on hypercorn's trio worker."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@_settings_options(demo=True)
def serve(**options: object) -> None:
    """Run the service until SIGINT or SIGTERM."""
    settings = _settings(options, demo=True)
    try:
        trio.run(_serve, settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    except BaseExceptionGroup as group:
        failed, _ = group.split(LifespanFailureError)
        if failed is None:
            raise
        raise click.ClickException(_first_leaf(failed)) from None


def _first_leaf(group: BaseException) -> str:
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return str(group)


async def _serve(settings: Settings) -> None:
    from .app import create_app
    from .server import serve as run_server

    app = create_app(settings)
    shutdown = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(run_server, app, settings, shutdown)
            _banner(urls[0], settings)
            async for signum in signals:
                log.info("%s: closing sockets, flushing, stopping", signal.Signals(signum).name)
                shutdown.set()
                break
    log.info("stopped")


def _command() -> str:
    """How to call this CLI again from here: its name when on PATH, else its path
    (`./dev serve` runs it from .venv/bin, which is not on PATH)."""
    here = os.path.abspath(sys.argv[0])
    on_path = shutil.which("presence-actors")
    if os.path.basename(here) != "presence-actors":
        return "presence-actors"  # run some other way (python -m, tests)
    if on_path is not None and os.path.abspath(on_path) == here:
        return "presence-actors"
    return os.path.relpath(here)


def _banner(url: str, settings: Settings) -> None:
    token = f"{_command()} token 1"
    if settings.data_dir != _DEFAULTS.data_dir:
        token += f" --data-dir {settings.data_dir}"
    click.echo(
        f"presence-actors listening on {url}\n"
        f"  store:     {_redacted(settings.store_url)}\n"
        f"  token:     {token}        (prints a bearer token for user 1)\n"
        f"  try:       curl -H \"Authorization: Bearer $({token})\" {url}/api/presence/users\n"
        f"  websocket: {url.replace('http', 'ws', 1)}/api/presence/subscribe?token=$({token})\n"
        f"  stop:      Ctrl+C (sockets close with 1001, storage flushes)"
    )


def _redacted(url: str) -> str:
    from storage import parse_url

    try:
        return parse_url(url).redacted()
    except ValueError:
        return url


@main.command()
@click.argument("user_id", type=click.IntRange(min=1))
@click.option("--ttl", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="seconds until the token expires")
@click.option("--sid", help="session id claim: the default device id for this token")
@_settings_options({"data_dir", "jwt_secret", "jwt_audience", "jwt_issuer"})
def token(user_id: int, ttl: float, sid: str | None, **options: object) -> None:
    """Print an HS256 token for USER_ID, signed with the configured (or dev) secret."""
    settings = _settings(options)
    if not settings.jwt_secret:
        raise click.ClickException("no PRESENCE_JWT_SECRET: tokens for RS256/ES256 are minted "
                                   "by whoever holds the private key")
    claims: dict[str, object] = {"sub": str(user_id), "iat": int(time.time()),
                                 "exp": int(time.time() + ttl)}
    if sid:
        claims["sid"] = sid
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    click.echo(jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))


_STORE_OPTIONS = {"data_dir", "database_url"}


@main.command()
@_settings_options(_STORE_OPTIONS)
def migrate(**options: object) -> None:
    """Apply the database migrations (safe to run twice)."""
    import storage

    url = _store_url(options)
    applied = _run_store(storage.migrate, url)
    click.echo(f"applied migrations {applied}" if applied else "schema is up to date")


@main.group()
def directory() -> None:
    """Load and dump the directory (users, partnerships, circles, conversations)."""


@directory.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True,
              help="make the directory exactly FILE: remove every user, partnership, circle "
                   "and conversation it does not name (one transaction)")
@_settings_options(_STORE_OPTIONS)
def directory_import(file: Path, replace: bool, **options: object) -> None:
    """Upsert what FILE names (or with --replace, become FILE); a malformed file is
    rejected whole and nothing changes."""
    import storage

    url = _store_url(options)
    counts = _run_store(partial(storage.import_directory_file, replace=replace), url, file)
    click.echo(storage.describe_import(counts))


@directory.command("export")
@_settings_options(_STORE_OPTIONS)
def directory_export(**options: object) -> None:
    """Print the whole directory as JSON (the import format)."""
    import storage

    data = _run_store(storage.export_directory, _store_url(options))
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@main.command()
def openapi() -> None:
    """Print the OpenAPI document the service serves at /openapi.json (docs/openapi.json)."""
    from presence_actors import MemoryStore

    from .app import create_app

    app = create_app(Settings(jwt_secret="x" * 32), store=MemoryStore())

    async def render() -> dict:
        async with app.test_request_context("/openapi.json"):
            return app.extensions["QUART_SCHEMA"].openapi_provider.schema()

    schema = trio.run(render)
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    click.echo(orjson.dumps(schema, option=options).decode())


def _store_url(options: dict) -> str:
    settings = Settings(**{k: v for k, v in options.items() if v is not None})
    settings.prepare_data_dir()
    return settings.store_url


def _run_store(function, *args):
    import storage

    try:
        return trio.run(function, *args)
    except (storage.StoreUnavailable, ValueError) as error:
        raise click.ClickException(str(error)) from None


if __name__ == "__main__":
    main()
