"""Trino's date-time functions that DuckDB lacks, rewritten in the parsed query to DuckDB's equivalents.

sqlglot passes ``to_iso8601``, ``format_datetime``, ``with_timezone`` and ``at_timezone`` through unchanged
(DuckDB then answers FUNCTION_NOT_FOUND), and hands ``parse_datetime``'s Joda-Time pattern to ``strptime`` as it
is. BI tools' Trino dialects emit these, so each becomes the DuckDB expression that answers the same. Sessions run
in :data:`SESSION_TIME_ZONE` (what ``current_timezone()`` answers, with the other session functions, in
:mod:`serving.sql.translation`), so a timestamp with time zone is formatted in UTC, as Trino formats one whose zone
is UTC.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from serving.sql.errors import QueryError

SESSION_TIME_ZONE = "UTC"
"""The time zone of every DuckDB session of the endpoint (``current_timezone()``)."""

_ISO_TIME = "%Y-%m-%dT%H:%M:%S.%f"
_ISO_FORMATS = {"DATE": "%Y-%m-%d", "TIMESTAMP WITH TIME ZONE": f"{_ISO_TIME}Z"}
"""``to_iso8601`` by DuckDB type (others: a timestamp without zone, :data:`_ISO_TIME`); six fraction digits
whatever the type's precision, as the lake's timestamps are microseconds."""

_JODA_LETTERS: dict[str, dict[int, str]] = {
    "y": {1: "%Y", 2: "%y", 3: "%Y"},
    "Y": {1: "%Y", 2: "%y", 3: "%Y"},
    "M": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "d": {1: "%-d", 2: "%d"},
    "D": {1: "%-j", 3: "%j"},
    "H": {1: "%-H", 2: "%H"},
    "h": {1: "%-I", 2: "%I"},
    "m": {1: "%-M", 2: "%M"},
    "s": {1: "%-S", 2: "%S"},
    "S": {3: "%g", 6: "%f", 9: "%n"},
    "a": {1: "%p"},
    "E": {1: "%a", 2: "%a", 3: "%a", 4: "%A"},
    "z": {1: "%Z", 2: "%Z", 3: "%Z"},
}
"""Joda-Time pattern letters by run length, as DuckDB ``strftime``/``strptime`` specifiers."""
_LONGER_RUNS = "yYME"
"""Letters whose longest run above also stands for any longer one (a year, a month's or a day's full name)."""


def joda_to_strftime(pattern: str, function: str) -> str:
    """A Joda-Time pattern (``format_datetime``, ``parse_datetime``) as a DuckDB ``strftime`` format.

    Raises:
        QueryError: a letter or run length with no DuckDB specifier (NOT_SUPPORTED), or an unclosed quote
            (INVALID_FUNCTION_ARGUMENT).
    """
    out, position = [], 0
    while position < len(pattern):
        char = pattern[position]
        end = position + 1
        if char == "'":
            text, end = _quoted(pattern, position, function)
            out.append(text.replace("%", "%%"))
        elif char.isascii() and char.isalpha():
            while end < len(pattern) and pattern[end] == char:
                end += 1
            out.append(_specifier(char, end - position, function))
        else:
            out.append("%%" if char == "%" else char)
        position = end
    return "".join(out)


def _quoted(pattern: str, start: int, function: str) -> tuple[str, int]:
    """The literal text of the quote opening at ``start`` (``''`` is a quote) and the index after it."""
    if pattern.startswith("''", start):
        return "'", start + 2
    text, position = [], start + 1
    while position < len(pattern):
        if pattern[position] != "'":
            text.append(pattern[position])
            position += 1
        elif pattern.startswith("''", position):
            text.append("'")
            position += 2
        else:
            return "".join(text), position + 1
    raise QueryError(f"{function}: unclosed quote in pattern {pattern!r}", "INVALID_FUNCTION_ARGUMENT")


def _specifier(letter: str, count: int, function: str) -> str:
    lengths = _JODA_LETTERS.get(letter, {})
    widest = max(lengths, default=0)
    specifier = lengths.get(count) or (lengths[widest] if count > widest and letter in _LONGER_RUNS else None)
    if specifier is None:
        supported = " ".join(known * length for known, runs in _JODA_LETTERS.items() for length in sorted(runs))
        raise QueryError(
            f"{function}: pattern letter {letter * count!r} is not supported by this endpoint; supported: {supported}",
            "NOT_SUPPORTED",
        )
    return specifier


def _literal_pattern(node: exp.Expression, pattern: exp.Expression | None, function: str) -> str:
    if not isinstance(pattern, exp.Literal) or not pattern.is_string:
        raise QueryError(f"{function} needs its pattern as a string literal", "NOT_SUPPORTED", *_position(node))
    return joda_to_strftime(pattern.this, function)


def _position(node: exp.Expression) -> tuple[int | None, int | None]:
    return node.meta.get("line"), node.meta.get("col")


def _arguments(node: exp.Anonymous, count: int) -> list[exp.Expression]:
    arguments = list(node.expressions)
    if len(arguments) != count:
        raise QueryError(
            f"{node.name}() takes {count} argument(s), got {len(arguments)}", "FUNCTION_NOT_FOUND", *_position(node)
        )
    return arguments


def _to_iso8601(node: exp.Anonymous) -> exp.Expression:
    """By the argument's type, decided by DuckDB once it has bound the query (``typeof`` is a constant there)."""
    [value] = _arguments(node, 1)
    cases = exp.Case(this=exp.Anonymous(this="typeof", expressions=[value.copy()]))
    for kind, pattern in _ISO_FORMATS.items():
        cases = cases.when(exp.Literal.string(kind), _strftime(value, pattern))
    return cases.else_(_strftime(value, _ISO_TIME))


def _format_datetime(node: exp.Anonymous) -> exp.Expression:
    value, pattern = _arguments(node, 2)
    return _strftime(value, _literal_pattern(node, pattern, "format_datetime"))


def _parse_datetime(node: exp.ParseDatetime) -> exp.Expression:
    """Trino answers a timestamp with time zone, in the session's zone."""
    pattern = _literal_pattern(node, node.args.get("format"), "parse_datetime")
    parsed = exp.Anonymous(this="strptime", expressions=[node.this.copy(), exp.Literal.string(pattern)])
    return exp.cast(parsed, exp.DataType.build("timestamptz"))


def _with_timezone(node: exp.Anonymous) -> exp.Expression:
    """A timestamp read as local time in the zone: DuckDB's ``timezone(zone, timestamp)``."""
    value, zone = _arguments(node, 2)
    return exp.Anonymous(this="timezone", expressions=[zone.copy(), value.copy()])


def _at_timezone(node: exp.Anonymous) -> exp.Expression:
    """The same instant seen in the zone: what Trino's ``AT TIME ZONE`` answers here too."""
    value, zone = _arguments(node, 2)
    return exp.AtTimeZone(this=value.copy(), zone=zone.copy())


def _strftime(value: exp.Expression, pattern: str) -> exp.Expression:
    return exp.Anonymous(this="strftime", expressions=[value.copy(), exp.Literal.string(pattern)])


_REWRITES: dict[str, Callable[[exp.Anonymous], exp.Expression]] = {
    "to_iso8601": _to_iso8601,
    "format_datetime": _format_datetime,
    "with_timezone": _with_timezone,
    "at_timezone": _at_timezone,
}


def rewrite_datetime_functions(expression: exp.Expression) -> None:
    """Replace, in place, each call of a Trino date-time function DuckDB lacks by its DuckDB equivalent.

    Raises:
        QueryError: a pattern that cannot be translated, or a call with the wrong number of arguments.
    """
    # deepest first, so a call's arguments are rewritten before the call copies them
    for node in reversed(list(expression.find_all(exp.Anonymous, exp.ParseDatetime))):
        if isinstance(node, exp.ParseDatetime):
            node.replace(_parse_datetime(node))
        elif isinstance(node, exp.Anonymous) and (rewrite := _REWRITES.get(node.name.lower())) is not None:
            node.replace(rewrite(node))
