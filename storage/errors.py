"""The store's own error, and how a database error is named in logs and statistics."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The database could not answer (down, too slow) or the store is closed."""


def describe(exc: BaseException) -> str:
    """`Type: message` of the error inside nested single-exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
