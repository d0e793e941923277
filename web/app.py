"""The Quart-Trio application factory.

    app = create_app(settings)              # tests, `presence-actors serve`
    hypercorn --worker-class trio -c python:web.hypercorn_conf 'web.app:create_app()'

`create_app()` with no arguments reads `PRESENCE_*` from the environment (and, with no
key configured, the dev secret in the data dir), so the hypercorn CLI needs no wrapper.
The store and the actors start in `before_serving` and stop — flushing the store — in
`after_serving`; see `host.py`.
"""

from __future__ import annotations

from quart import request
from quart_schema import HttpSecurityScheme, Info, OpenAPIProvider, QuartSchema
from quart_trio import QuartTrio

from . import errors
from .asgi import AsgiFront
from .config import MAX_BODY_BYTES, Settings
from .host import ServiceHost
from .rest import api, ops

TITLE = "presence-actors"
VERSION = "0.1.0"


class _OpenAPI(OpenAPIProvider):
    """Ids in paths are matched as text (so `abc` is a 422, as in FastAPI, not a 404), but
    documented as what they must be: positive 64-bit integers."""

    def build_path_parameter(self, name, converter):
        parameter = super().build_path_parameter(name, converter)
        if name.endswith("_id"):
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
        return parameter


def create_app(settings: Settings | None = None, *, store=None) -> QuartTrio:
    """A ready-to-serve app. `store`: an already open PresenceStore (tests), else by URL."""
    if settings is None:
        settings = Settings.from_env().with_dev_secret()
    if store is None:
        settings.prepare_data_dir()
    host = ServiceHost(settings, store)
    app = QuartTrio("web")
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        BODY_TIMEOUT=30,
        RESPONSE_TIMEOUT=60,
        PROVIDE_AUTOMATIC_OPTIONS=True,
    )
    app.extensions["presence"] = host
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info=Info(title=TITLE, version=VERSION,
                  description="Realtime presence: who is online, away or offline, and who is "
                              "typing. WebSocket: /api/presence/subscribe (see docs/api.md)."),
        security_schemes={"bearer": HttpSecurityScheme(scheme="bearer", bearer_format="JWT")},
        security=[{"bearer": []}],
        openapi_provider_class=_OpenAPI,
    )
    app.register_blueprint(api)
    app.register_blueprint(ops)
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
        await host.start(app.nursery)

    @app.after_serving
    async def _stop() -> None:
        await host.stop()

    return app


def host_of(app: QuartTrio) -> ServiceHost:
    return app.extensions["presence"]


def _endpoint() -> str:
    from quart import request

    rule = request.url_rule
    return rule.rule if rule is not None else "unknown"
