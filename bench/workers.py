"""Load processes: a role object living in its own process on the load core.

The orchestrator talks to each worker over a `multiprocessing` pipe: `send(method, **kw)`
starts `await role.method(**kw)` in the worker, `recv()` waits for its result. Sending to
several workers before receiving lets their phases overlap (subscribers measuring while
the driver drives). Every wait is bounded; a worker that fails sends its traceback back.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing as mp
import traceback
from typing import Any

from . import machine

_CTX = mp.get_context("spawn")


class WorkerError(RuntimeError):
    pass


class Worker:
    """Handle on one load process running `module.Class(**params)`."""

    def __init__(self, role: str, **params: Any) -> None:
        self.role = role
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_main, args=(child, role, params), daemon=True)
        self.process.start()
        child.close()

    def send(self, method: str, **kwargs: Any) -> None:
        self.conn.send((method, kwargs))

    def recv(self, wait: float = 300.0) -> Any:
        if not self.conn.poll(wait):
            raise WorkerError(f"{self.role}: no answer in {wait:.0f} s")
        ok, value = self.conn.recv()
        if not ok:
            raise WorkerError(f"{self.role} failed:\n{value}")
        return value

    def call(self, method: str, wait: float = 300.0, **kwargs: Any) -> Any:
        self.send(method, **kwargs)
        return self.recv(wait)

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def _main(conn, role: str, params: dict) -> None:
    machine.pin(machine.LOAD_CORE)
    machine.raise_nofile()
    module_name, _, class_name = role.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    asyncio.run(_serve(conn, cls, params))


async def _serve(conn, cls, params: dict) -> None:
    loop = asyncio.get_running_loop()
    obj = cls(**params)
    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message is None:
            break
        method, kwargs = message
        try:
            result = (True, await getattr(obj, method)(**kwargs))
        except Exception:
            result = (False, traceback.format_exc())
        conn.send(result)
    closer = getattr(obj, "aclose", None)
    if closer is not None:
        await closer()
