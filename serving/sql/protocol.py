"""Trino's client protocol on the wire: the ``X-Trino-*`` request headers and the ``QueryResults`` document.

Request headers become a :class:`ClientSession`; statement responses are built here with the fields Trino's
clients read (``id``, ``infoUri``, ``nextUri``, ``columns``, ``data``, ``stats``, ``error``, ``updateType``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

HEADER_USER = "X-Trino-User"
HEADER_CATALOG = "X-Trino-Catalog"
HEADER_SCHEMA = "X-Trino-Schema"
HEADER_SOURCE = "X-Trino-Source"
HEADER_CLIENT_INFO = "X-Trino-Client-Info"
HEADER_CLIENT_TAGS = "X-Trino-Client-Tags"
HEADER_TIME_ZONE = "X-Trino-Time-Zone"
HEADER_SESSION = "X-Trino-Session"
HEADER_PREPARED_STATEMENT = "X-Trino-Prepared-Statement"
HEADER_TRANSACTION = "X-Trino-Transaction-Id"

HEADER_SET_CATALOG = "X-Trino-Set-Catalog"
HEADER_SET_SCHEMA = "X-Trino-Set-Schema"
HEADER_SET_SESSION = "X-Trino-Set-Session"
HEADER_CLEAR_SESSION = "X-Trino-Clear-Session"
HEADER_ADDED_PREPARE = "X-Trino-Added-Prepare"
HEADER_DEALLOCATED_PREPARE = "X-Trino-Deallocated-Prepare"
HEADER_STARTED_TRANSACTION = "X-Trino-Started-Transaction-Id"
HEADER_CLEAR_TRANSACTION = "X-Trino-Clear-Transaction-Id"


@dataclass(frozen=True)
class ClientSession:
    """What one request says about its session (Trino keeps no session state on the server either)."""

    user: str | None = None
    catalog: str | None = None
    schema: str | None = None
    source: str | None = None
    client_info: str | None = None
    client_tags: tuple[str, ...] = ()
    time_zone: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    prepared: dict[str, str] = field(default_factory=dict)
    transaction_id: str | None = None


def _pairs(header: str | None, decode: Any) -> dict[str, str]:
    pairs = {}
    for item in (header or "").split(","):
        name, separator, value = item.strip().partition("=")
        if separator and name:
            pairs[name.strip()] = decode(value.strip())
    return pairs


def parse_session(headers: Mapping[str, str]) -> ClientSession:
    """Read a :class:`ClientSession` from the request headers (prepared statements are form-encoded)."""
    transaction = headers.get(HEADER_TRANSACTION)
    return ClientSession(
        user=headers.get(HEADER_USER) or None,
        catalog=headers.get(HEADER_CATALOG) or None,
        schema=headers.get(HEADER_SCHEMA) or None,
        source=headers.get(HEADER_SOURCE) or None,
        client_info=headers.get(HEADER_CLIENT_INFO) or None,
        client_tags=tuple(tag for tag in (headers.get(HEADER_CLIENT_TAGS) or "").split(",") if tag),
        time_zone=headers.get(HEADER_TIME_ZONE) or None,
        properties=_pairs(headers.get(HEADER_SESSION), unquote),
        prepared=_pairs(headers.get(HEADER_PREPARED_STATEMENT), unquote_plus),
        transaction_id=None if transaction in (None, "", "NONE") else transaction,
    )


def query_stats(state: str, elapsed_ms: int, rows: int, queued: bool = False) -> dict[str, Any]:
    """Trino's ``StatementStats`` for a single-node query."""
    done = state in ("FINISHED", "FAILED")
    return {
        "state": state,
        "queued": queued,
        "scheduled": not queued,
        "nodes": 1,
        "totalSplits": 1,
        "queuedSplits": 0,
        "runningSplits": 0 if done else 1,
        "completedSplits": 1 if done else 0,
        "cpuTimeMillis": elapsed_ms,
        "wallTimeMillis": elapsed_ms,
        "queuedTimeMillis": 0,
        "elapsedTimeMillis": elapsed_ms,
        "processedRows": rows,
        "processedBytes": 0,
        "physicalInputBytes": 0,
        "peakMemoryBytes": 0,
        "spilledBytes": 0,
        "progressPercentage": 100.0 if done else 0.0,
    }
