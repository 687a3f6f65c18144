"""A separate ingest process for the kill -9 and concurrent-writer tests.

``python -m tests.lake.ingest.ingest_child PATH GATE [DIE_AT_COMMIT]``: once imported, creates
``GATE/ready-<pid>`` and waits for ``GATE/go`` (so several children start ingesting at the same moment), ingests
PATH with the environment's settings, and, when DIE_AT_COMMIT is given, sends itself SIGKILL just before catalog
commit number DIE_AT_COMMIT (0-based).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from pyiceberg.catalog.sql import SqlCatalog

from lake.ingest import ingest_path


def _die_before_commit(number: int) -> None:
    real_commit = SqlCatalog.commit_table
    commits = iter(range(number + 1))

    def commit_or_die(self: SqlCatalog, *args: Any, **kwargs: Any) -> Any:
        if next(commits, number) == number:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_commit(self, *args, **kwargs)

    SqlCatalog.commit_table = commit_or_die  # type: ignore[method-assign]


def main() -> None:
    path, gate = sys.argv[1], Path(sys.argv[2])
    if len(sys.argv) > 3:
        _die_before_commit(int(sys.argv[3]))
    (gate / f"ready-{os.getpid()}").touch()
    while not (gate / "go").exists():
        time.sleep(0.01)
    report = ingest_path(path)
    print(report.rows_appended, report.rows_quarantined)


if __name__ == "__main__":
    main()
