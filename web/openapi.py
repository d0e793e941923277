"""The OpenAPI document (`/openapi.json`, docs/openapi.json) as the API really behaves.

quart-schema builds it from the handlers' `document_*` decorators and the pydantic models;
this provider fills in what those cannot say: ids in paths are matched as text (so `abc` is
a 422, as in FastAPI, not a 404) but must be positive 64-bit integers; `user_ids` is one
comma-separated parameter (`style: form, explode: false`); request bodies are required;
401, 429 and 503 carry their headers. tests/web/test_openapi.py checks real responses
against the result with schemathesis.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from quart_schema import OpenAPIProvider

from .schemas import MAX_ID

TITLE = "presence-actors"
DESCRIPTION = ("Realtime presence: who is online, away or offline, and who is typing. "
               "WebSocket: /api/presence/subscribe (see docs/api.md).")

_HEADERS = {
    "401": {"WWW-Authenticate": "Always `Bearer`"},
    "429": {"Retry-After": "Whole seconds until a retry can succeed"},
    "503": {"Retry-After": "Whole seconds; the service is busy or shutting down"},
}
_HEADER_SCHEMAS = {
    "WWW-Authenticate": {"type": "string", "enum": ["Bearer"]},
    "Retry-After": {"type": "string", "pattern": "^[0-9]+$"},
}
_DESCRIPTIONS = {
    "200": "OK",
    "401": "Missing, malformed, expired or wrongly signed token, or an unknown user",
    "404": "Unknown, or not visible to the caller (alike on purpose)",
    "413": "Request body over 4 KiB",
    "422": "Validation error (FastAPI's shape)",
    "429": "Rate limited",
    "503": "An actor did not answer in time, or the server is shutting down",
}


def version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written)."""
    try:
        return metadata.version("presence-actors")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


class OpenAPIDocument(OpenAPIProvider):
    def build_path_parameter(self, name, converter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if name.endswith("_id"):
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        return parameter

    def build_querystring_parameters(self, model) -> tuple[list[dict], dict]:
        parameters, components = super().build_querystring_parameters(model)
        for parameter in parameters:
            if parameter["schema"].get("type") == "array":  # user_ids=1,2,3
                parameter.update(style="form", explode=False)
        return parameters, components

    def build_request_body(self, model, source) -> tuple[dict, dict]:
        body, components = super().build_request_body(model, source)
        return {**body, "required": True}, components

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        for operations in document["paths"].values():
            for operation in operations.values():
                for status, response in operation["responses"].items():
                    code = str(status)  # quart-schema keys them by int
                    response["description"] = _DESCRIPTIONS.get(code, response["description"])
                    headers = _HEADERS.get(code, {})
                    if headers:
                        response["headers"] = {
                            name: {"description": text, "required": True,
                                   "schema": _HEADER_SCHEMAS[name]}
                            for name, text in headers.items()
                        }
        return document
