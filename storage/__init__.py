"""Persistence for presence-actors: Postgres, SQLite and memory behind one storage actor.

`open_store(url)` runs the write-behind storage actor and yields a `Store`, which
implements `presence_actors.ports.PresenceStore`. `migrate`, `import_directory_file` and
`export_directory` are the entry points the CLI (`python -m storage`, `presence-actors`)
calls under `trio.run`.
"""

from .commands import describe_import, export_directory, import_directory_file, migrate
from .directory_file import DirectoryFileError
from .errors import StoreUnavailable
from .flush_rules import Health
from .options import StoreOptions
from .statistics import StoreStatistics
from .store import Store, open_store
from .url import parse_url

__all__ = [
    "DirectoryFileError",
    "Health",
    "Store",
    "StoreOptions",
    "StoreStatistics",
    "StoreUnavailable",
    "describe_import",
    "export_directory",
    "import_directory_file",
    "migrate",
    "open_store",
    "parse_url",
]
