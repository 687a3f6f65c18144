"""Per-query limits: a run-time deadline that interrupts DuckDB, and a ceiling on result rows.

A runaway query is stopped where it runs: when the deadline passes, the query's DuckDB connection is
interrupted (``connection.interrupt()``), and the query fails with Trino's ``EXCEEDED_TIME_LIMIT`` saying so.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from serving.sql.errors import QueryError

_DURATION = re.compile(r"\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ns|us|ms|s|m|h|d)\s*")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in a Trino duration such as ``30s``, ``1.5m`` or ``500ms``.

    Raises:
        QueryError: ``INVALID_SESSION_PROPERTY`` when the text is not a duration.
    """
    match = _DURATION.fullmatch(text.strip("'"))
    if match is None:
        raise QueryError(f"{text!r} is not a duration; use e.g. '30s', '5m' or '500ms'", "INVALID_SESSION_PROPERTY")
    return float(match["value"]) * _SECONDS[match["unit"]]


class Deadline:
    """Calls ``interrupt`` once ``seconds`` have passed, unless stopped first."""

    def __init__(self, seconds: float, interrupt: Callable[[], None]) -> None:
        self.seconds = seconds
        self._interrupt = interrupt
        self._expired = threading.Event()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        """Start counting."""
        self._timer.start()

    def stop(self) -> None:
        """The query ended in time: never interrupt."""
        self._timer.cancel()

    @property
    def expired(self) -> bool:
        """Whether the deadline passed (and the query was interrupted)."""
        return self._expired.is_set()

    def _expire(self) -> None:
        self._expired.set()
        self._interrupt()

    def error(self) -> QueryError:
        """The error a query that ran out of time fails with."""
        return QueryError(
            f"Query exceeded the maximum run time of {self.seconds:g}s and was cancelled; narrow it, or raise "
            "LAKEFORGE_SQL__QUERY_TIMEOUT_S",
            "EXCEEDED_TIME_LIMIT",
        )


def too_many_rows(limit: int) -> QueryError:
    """The error a query fails with when its result passes ``limit`` rows."""
    return QueryError(
        f"Query result exceeds the maximum of {limit:,} rows and was cancelled; add a LIMIT or aggregate, or "
        "raise LAKEFORGE_SQL__MAX_RESULT_ROWS",
        "EXCEEDED_SCAN_LIMIT",
    )
