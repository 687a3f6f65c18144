"""One cycle at a time per lake: a cycle rolls a failed step back, which would undo another cycle's commits
(``lakeforge transform`` takes the same lock for dbt commands that write).

The lock lives where the catalog lives, so it holds across machines in the cluster profile: a session-level
advisory lock on the PostgreSQL catalog database, or an exclusive ``flock`` on a file next to the embedded SQLite
catalog. The database or the operating system releases it when the process ends, so a crashed run never leaves a
stale lock behind.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from sqlalchemy import Engine, text

from lake.errors import PipelineError

RUN_LOCK_KEY = 0x6C616B65666F7267
"""PostgreSQL advisory lock key of the cycle ("lakeforg" in ASCII)."""
_BUSY = (
    "another 'lakeforge run' or 'lakeforge transform' is in progress on this lake ({where}); they must not overlap. "
    "Try again when it ends"
)


def run_lock(catalog: Catalog) -> AbstractContextManager[None]:
    """The lake's run lock, held for a ``with`` block.

    Raises:
        PipelineError: on entering, when another process holds it; at once, when the catalog is not a SQL catalog
            on PostgreSQL or SQLite.
    """
    if not isinstance(catalog, SqlCatalog):
        raise PipelineError(f"runs are locked through a SQL catalog's database; {type(catalog).__name__} has none")
    url = catalog.engine.url
    if url.get_backend_name() == "postgresql":
        return _advisory_lock(catalog.engine)
    if url.get_backend_name() != "sqlite":
        raise PipelineError(f"runs are locked on PostgreSQL or SQLite catalogs; this catalog is on {url.drivername}")
    if url.database in (None, "", ":memory:"):
        return nullcontext()  # an in-memory catalog: no other process can reach it
    return _file_lock(Path(f"{url.database}.run-lock"))


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    with engine.connect() as connection:
        if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": RUN_LOCK_KEY}).scalar():
            raise PipelineError(_BUSY.format(where=f"advisory lock {RUN_LOCK_KEY} on {engine.url.database}"))
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RUN_LOCK_KEY})


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(_BUSY.format(where=f"lock file {path}")) from None
        yield  # closing the file releases the lock
