"""`python -m storage migrate URL | import [--replace] URL FILE | export URL`.

URL defaults to $PRESENCE_DATABASE_URL. Exit status 0 on success, 1 on a rejected file or
an unreachable database (the reason on stderr), 2 on bad usage.
"""

from __future__ import annotations

import os
import sys
from functools import partial

import orjson
import trio

from .commands import describe_import, export_directory, import_directory_file, migrate
from .errors import StoreUnavailable

USAGE = "usage: python -m storage migrate [URL] | import [--replace] [URL] FILE | export [URL]"


class _Usage(Exception):
    pass


def _url(args: list[str], needed: int) -> tuple[str, list[str]]:
    if len(args) == needed + 1:
        return args[0], args[1:]
    env = os.environ.get("PRESENCE_DATABASE_URL")
    if env is None or len(args) != needed:
        raise _Usage
    return env, args


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(USAGE, file=sys.stderr)
        return 2
    command, rest = args[0], args[1:]
    try:
        if command == "migrate":
            url, _ = _url(rest, 0)
            applied = trio.run(migrate, url)
            print(f"applied migrations: {applied}" if applied else "schema up to date")
        elif command == "import":
            replace = rest[:1] == ["--replace"]
            url, (path,) = _url(rest[replace:], 1)
            counts = trio.run(partial(import_directory_file, url, path, replace=replace))
            print(describe_import(counts))
        elif command == "export":
            url, _ = _url(rest, 0)
            data = trio.run(export_directory, url)
            sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except _Usage:
        print(USAGE, file=sys.stderr)
        return 2
    except (ValueError, StoreUnavailable, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
