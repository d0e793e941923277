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
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import click
import orjson
import trio
from click.core import ParameterSource
from hypercorn.utils import LifespanFailureError

from . import keys, startup, tokens
from .auth import valid_device_id
from .config import SETTINGS, ConfigError, Settings
from .schemas import MAX_ID
from .startup import redacted as _redacted

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
    """Settings from the options given; the dev secret when no key is configured.

    Raises:
        click.ClickException: a setting that cannot work (one line, exit 1).
    """
    values = {**defaults, **{k: v for k, v in options.items() if v is not None}}
    try:
        return Settings(**values).with_dev_secret()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group()
@click.option("--log-level", envvar="PRESENCE_LOG_LEVEL", default="INFO", show_envvar=True,
              show_default=True,
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
    if settings.workers != 1:
        from .workers import serve_workers

        try:
            raise SystemExit(serve_workers(settings))
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
    sources = _sources(options)
    try:
        trio.run(startup.serve, settings,
                 lambda url: click.echo(startup.banner(url, settings, sources)))
    except startup.StartupError as error:
        raise click.ClickException(str(error)) from None
    except BaseExceptionGroup as group:
        failed, _ = group.split((startup.StartupError, LifespanFailureError))
        if failed is None:
            raise
        raise click.ClickException(_first_leaf(failed)) from None
    except KeyboardInterrupt:  # Ctrl+C outside the signal receiver: before start, or twice
        click.echo("interrupted", err=True)
        sys.exit(130)


def _first_leaf(group: BaseException) -> str:
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return str(group)


def _sources(options: dict) -> dict[str, str]:
    """Where each given setting came from: the command line or the environment."""
    context = click.get_current_context()
    found = {}
    for name, value in options.items():
        source = context.get_parameter_source(name)
        if value is not None and source is ParameterSource.COMMANDLINE:
            found[name] = tokens.COMMAND_LINE
        elif value is not None and source is ParameterSource.ENVIRONMENT:
            found[name] = tokens.ENVIRONMENT
    return found


def _valid_sid(context, parameter, value: str | None) -> str | None:
    if value is not None and not valid_device_id(value):
        raise click.BadParameter("must be 1-64 characters of [A-Za-z0-9._-] "
                                 "(the server answers 422 to any other sid)")
    return value


@main.command()
@click.argument("user_id", type=click.IntRange(min=1, max=MAX_ID))
@click.option("--ttl", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="seconds until the token expires")
@click.option("--sid", callback=_valid_sid,
              help="session id claim: the device id the token speaks for")
@click.option("--private-key", type=click.Path(dir_okay=False),
              help="PEM private key: sign with its algorithm (RS256, ES256... or the first of "
                   "PRESENCE_JWT_ALGORITHMS that fits) instead of the HMAC secret")
@_settings_options({"data_dir", "database_url", "jwt_secret", "jwt_algorithms",
                    "jwt_audience", "jwt_issuer"})
def token(user_id: int, ttl: float, sid: str | None, private_key: str | None,
          **options: object) -> None:
    """Print a token for USER_ID that the server with the same settings accepts.

    HS* with the configured (or dev) secret, or RS*/PS*/ES*/EdDSA with --private-key.
    Warns on stderr when USER_ID is not in the directory (the server would answer 401).
    """
    try:
        settings = _settings(options) if private_key is None else _plain_settings(options)
        key = keys.load_private_key(private_key) if private_key else None
        printed = tokens.mint(settings, user_id, ttl, sid=sid, private_key=key)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    click.echo(printed)
    with _quiet_storage_log():
        warning = tokens.directory_warning(settings, user_id)
    if warning:
        click.echo(warning, err=True)


def _plain_settings(options: dict) -> Settings:
    return Settings(**{k: v for k, v in options.items() if v is not None})


@contextmanager
def _quiet_storage_log():
    """The directory lookup opens the store; its start-up lines are not what `token` did."""
    store_log = logging.getLogger("storage")
    level = store_log.level
    store_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        store_log.setLevel(level)


_STORE_OPTIONS = {"data_dir", "database_url"}


@main.command()
@_settings_options(_STORE_OPTIONS)
def migrate(**options: object) -> None:
    """Apply the database migrations (safe to run twice)."""
    import storage

    url = _store_url(options)
    applied = _run_store(storage.migrate, url)
    done = f"applied migrations {applied}" if applied else "schema is up to date"
    click.echo(f"{done} ({_redacted(url)})")


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
    click.echo(storage.describe_import(counts, _redacted(url)))


@directory.command("export")
@_settings_options(_STORE_OPTIONS)
def directory_export(**options: object) -> None:
    """Print the whole directory as JSON (the import format)."""
    import storage

    url = _store_url(options)
    data = _run_store(storage.export_directory, url)
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    counts = {what: len(data.get(what, ())) for what in ("users", "partnerships", "circles",
                                                         "conversations")}
    log.info("exported %s from %s", _counted(counts), _redacted(url))


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


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items())


def _store_url(options: dict) -> str:
    settings = _plain_settings(options)
    try:
        settings.prepare_data_dir()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    return settings.store_url


def _run_store(function, *args):
    """Run a one-shot store command; the store's own start-up lines are not what the
    command did (the command says that itself)."""
    import storage

    try:
        with _quiet_storage_log():
            return trio.run(function, *args)
    except (storage.StoreUnavailable, ValueError) as error:
        raise click.ClickException(str(error)) from None


if __name__ == "__main__":
    main()
