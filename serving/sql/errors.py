"""Trino-shaped query failures: what a client sees as ``error`` in a statement response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lake.errors import SqlEndpointError

USER_ERROR = "USER_ERROR"
INTERNAL_ERROR = "INTERNAL_ERROR"
INSUFFICIENT_RESOURCES = "INSUFFICIENT_RESOURCES"

ERROR_CODES: dict[str, tuple[int, str]] = {
    "GENERIC_USER_ERROR": (0, USER_ERROR),
    "SYNTAX_ERROR": (1, USER_ERROR),
    "ABANDONED_QUERY": (2, USER_ERROR),
    "USER_CANCELED": (3, USER_ERROR),
    "PERMISSION_DENIED": (4, USER_ERROR),
    "NOT_FOUND": (5, USER_ERROR),
    "FUNCTION_NOT_FOUND": (6, USER_ERROR),
    "INVALID_FUNCTION_ARGUMENT": (7, USER_ERROR),
    "DIVISION_BY_ZERO": (8, USER_ERROR),
    "INVALID_CAST_ARGUMENT": (9, USER_ERROR),
    "NOT_SUPPORTED": (13, USER_ERROR),
    "INVALID_SESSION_PROPERTY": (14, USER_ERROR),
    "NUMERIC_VALUE_OUT_OF_RANGE": (19, USER_ERROR),
    "READ_ONLY_VIOLATION": (23, USER_ERROR),
    "CATALOG_NOT_FOUND": (44, USER_ERROR),
    "SCHEMA_NOT_FOUND": (45, USER_ERROR),
    "TABLE_NOT_FOUND": (46, USER_ERROR),
    "COLUMN_NOT_FOUND": (47, USER_ERROR),
    "MISSING_CATALOG_NAME": (56, USER_ERROR),
    "MISSING_SCHEMA_NAME": (57, USER_ERROR),
    "TYPE_MISMATCH": (58, USER_ERROR),
    "INVALID_PARAMETER_USAGE": (80, USER_ERROR),
    "INVALID_ROW_FILTER": (84, USER_ERROR),
    "INVALID_COLUMN_MASK": (85, USER_ERROR),
    "GENERIC_INTERNAL_ERROR": (65536, INTERNAL_ERROR),
    "EXCEEDED_TIME_LIMIT": (131075, INSUFFICIENT_RESOURCES),
    "EXCEEDED_LOCAL_MEMORY_LIMIT": (131079, INSUFFICIENT_RESOURCES),
    "EXCEEDED_SCAN_LIMIT": (131081, INSUFFICIENT_RESOURCES),
}
"""Trino's ``StandardErrorCode`` entries the endpoint can answer with: name -> (code, type)."""


@dataclass
class QueryError(SqlEndpointError):
    """A query failed; carries what Trino's clients read from a failed statement response.

    Attributes:
        message: what went wrong and what to do about it.
        name: a Trino error name from :data:`ERROR_CODES`.
        line: 1-based line of the offending token in the submitted SQL, when known.
        column: 1-based column of the offending token, when known.
    """

    message: str
    name: str = "GENERIC_USER_ERROR"
    line: int | None = None
    column: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_trino(self) -> dict[str, Any]:
        """The ``error`` object of Trino's ``QueryResults`` (with ``failureInfo`` as the JDBC driver expects)."""
        code, error_type = ERROR_CODES[self.name]
        location = {"lineNumber": self.line or 1, "columnNumber": self.column or 1}
        message = (
            f"line {location['lineNumber']}:{location['columnNumber']}: {self.message}" if self.line else self.message
        )
        return {
            "message": message,
            "errorCode": code,
            "errorName": self.name,
            "errorType": error_type,
            "errorLocation": location,
            "failureInfo": {
                "type": "io.trino.spi.TrinoException",
                "message": message,
                "suppressed": [],
                "stack": [],
                "errorLocation": location,
            },
        }


def permission_denied(what: str) -> QueryError:
    """Trino's ``Access Denied: ...`` error."""
    return QueryError(f"Access Denied: {what}", "PERMISSION_DENIED")
