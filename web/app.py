"""The Quart-Trio application factory.

    app = create_app(settings)              # tests, `presence-actors serve`
    hypercorn -c python:web.hypercorn_conf 'web.hypercorn_conf:create_app()'

`create_app()` with no arguments reads `PRESENCE_*` from the environment (and, with no
key configured, the dev secret in the data dir), so the hypercorn CLI needs no wrapper.
The store and the actors start in `before_serving` and stop — flushing the store — in
`after_serving`; see `host.py`. Under the hypercorn CLI, `before_serving` also marks the
statuses an earlier run left offline: hypercorn bound the port before loading the app.
"""

from __future__ import annotations

from quart import request
from quart_schema import HttpSecurityScheme, Info, QuartSchema
from quart_trio import QuartTrio

from . import errors
from .asgi import AsgiFront
from .config import MAX_BODY_BYTES, ConfigError, Settings
from .demo_page import browser_routes
from .host import EXTENSION_KEY, ServiceHost
from .openapi import DESCRIPTION, TITLE, OpenAPIDocument, version
from .rest import api, ops


def create_app(settings: Settings | None = None, *, store=None, clock=None,
               freeze_heap: bool = True) -> QuartTrio:
    """A ready-to-serve app. `store`: an already open PresenceStore (tests), else by URL.
    `clock`: the service's `WallClock` (the testing kit pins it), else one made at start.
    `freeze_heap`: tune the process's garbage collector at start (`host.freeze_startup_heap`),
    which an app embedded in a test run (the testing kit) must not do.

    With no settings (the hypercorn CLI imports `create_app()`), they come from
    `PRESENCE_*` and a setting that cannot work exits 1 with one line: hypercorn itself
    would print a traceback and exit 0.

    Raises:
        ConfigError: a setting that cannot work (a key that is missing or unusable).
    """
    if settings is None:
        try:
            app = create_app(Settings.from_env().with_dev_secret(), store=store)
        except ConfigError as error:
            raise SystemExit(f"Error: {error}") from None
        app.config["PRESENCE_MARK_OFFLINE_ON_SERVING"] = True
        return app
    if store is None:
        settings.prepare_data_dir()
    host = ServiceHost(settings, store, clock, freeze_heap=freeze_heap)
    app = QuartTrio("web", static_folder=None)  # web/static is served by browser_routes
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        BODY_TIMEOUT=30,
        RESPONSE_TIMEOUT=60,
        PROVIDE_AUTOMATIC_OPTIONS=True,
    )
    app.extensions[EXTENSION_KEY] = host
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info=Info(title=TITLE, version=version(), description=DESCRIPTION),
        security_schemes={"bearer": HttpSecurityScheme(scheme="bearer", bearer_format="JWT")},
        security=[{"bearer": []}],
        openapi_provider_class=OpenAPIDocument,
    )
    app.register_blueprint(api)
    app.register_blueprint(ops)
    app.register_blueprint(browser_routes(settings))
    app.asgi_app = AsgiFront(app.asgi_app, host)  # the WebSocket route, raw (web/asgi.py)
    errors.register(app, lambda: host.metrics.rate_limited.labels(_endpoint()).inc())

    @app.after_request
    async def _drain_body(response):
        # hypercorn + quart-trio: a keep-alive connection whose previous request body was
        # never read stalls a later request (found by the fuzz test). Read it (<= 4 KiB).
        try:
            await request.get_data()
        except Exception:
            response.headers["Connection"] = "close"
        return response

    @app.before_serving
    async def _start() -> None:
        if host.service is None:  # `presence-actors serve` starts it before it listens
            await host.start(app.nursery)
            # The hypercorn CLI bound its sockets before loading the app, and listens
            # right after this: the start can no longer fail for a port (SPEC §5).
            if app.config.get("PRESENCE_MARK_OFFLINE_ON_SERVING"):
                await host.mark_offline()

    @app.after_serving
    async def _stop() -> None:
        await host.stop()

    return app


def _endpoint() -> str:
    from quart import request

    rule = request.url_rule
    return rule.rule if rule is not None else "unknown"
