"""Flag values several commands share."""

from __future__ import annotations

from datetime import UTC, datetime

from lake.errors import LakeforgeError


def parse_time(value: str | None, flag: str, error: type[LakeforgeError] = LakeforgeError) -> datetime | None:
    """An ISO date or time given to ``flag``, in UTC when it names no zone; None when the flag was not given.

    Raises:
        error: the value is not an ISO date or time (the message names the flag).
    """
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise error(
            f"{flag} {value!r} is not an ISO date or time such as 2026-02-01 or 2026-02-01T12:00+00:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
