"""Contract checks, vectorized with Polars: each chunk is converted to the table's types in one pass and every
row gets the list of problems that keep it out of the table (empty when it is good).

Problems that concern the whole file (a required column missing, a typed column that could only be converted
by losing data) are found from the file's schema alone, before any row is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lake.contracts import Contract

NAIVE_TIMESTAMP = r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*$"
UTC_MICROS = pl.Datetime("us", "UTC")

_WIDENS_TO: dict[pl.DataType, set[pl.DataType]] = {
    pl.Int64(): {pl.Int8(), pl.Int16(), pl.Int32(), pl.UInt8(), pl.UInt16(), pl.UInt32()},
    pl.Int32(): {pl.Int8(), pl.Int16(), pl.UInt8(), pl.UInt16()},
    pl.Float64(): {pl.Float32(), pl.Int8(), pl.Int16(), pl.Int32(), pl.UInt8(), pl.UInt16(), pl.UInt32()},
}
"""Typed source columns that convert to the table's type without losing a value."""
_TEXT_LIKE = (pl.String, pl.Categorical, pl.Enum)


@dataclass(frozen=True)
class Target:
    """One table column as validation sees it: its type and the contract's rules (none for added columns)."""

    name: str
    dtype: pl.DataType
    required: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


def targets_for(table_schema: pa.Schema, contract: Contract) -> list[Target]:
    """The table's columns in table order, with the contract's rules attached by name."""
    dtypes = pl.DataFrame(table_schema.empty_table()).schema
    targets = []
    for name, dtype in dtypes.items():
        column = contract.columns.get(name)
        if column is None:
            targets.append(Target(name, dtype))
            continue
        allowed = tuple(column.allowed) if column.allowed is not None else None
        targets.append(Target(name, dtype, not column.nullable, allowed, column.min, column.max))
    return targets


def file_problem(
    source: pl.Schema, targets: list[Target], text: bool, table_name: str, unstorable: list[str] | None = None
) -> str | None:
    """Why no row of a file with this schema can go into the table, or None when rows can be checked one by one.

    Args:
        source: the file's column types.
        targets: the table's columns, including the file's new columns as the table would store them.
        text: values arrive as text (CSV, JSON Lines) and are parsed value by value.
        table_name: named in the message.
        unstorable: new columns of the file whose type no table column can have.
    """
    missing = [t.name for t in targets if t.required and t.name not in source]
    if missing:
        by_lower = {name.lower(): name for name in source}
        near = [f"{by_lower[name.lower()]} for {name}" for name in missing if name.lower() in by_lower]
        hint = f" (the file has {', '.join(near)}: column names are case-sensitive)" if near else ""
        return f"missing required column(s) {', '.join(missing)}{hint}"
    if unstorable:
        columns = ", ".join(f"{name} ({source[name]})" for name in unstorable)
        return (
            f"column(s) {columns} have a type {table_name} cannot store; convert them (e.g. to text) or leave them out"
        )
    for target in targets:
        dtype = source.get(target.name)
        if dtype is None or _converts(dtype, target.dtype, text):
            continue
        if isinstance(dtype, pl.Datetime) and target.dtype == UTC_MICROS:
            return f"column {target.name} is a timestamp without time zone; write it with a UTC offset (tz=UTC)"
        return (
            f"column {target.name} is {dtype} in the file but {target.dtype} in {table_name}; "
            "converting it would lose data"
        )
    return None


def _converts(source: pl.DataType, target: pl.DataType, text: bool) -> bool:
    if source == target or source == pl.Null:
        return True
    if isinstance(source, _TEXT_LIKE):
        return text or target == pl.String
    if target == pl.String:
        return source.is_numeric() or source == pl.Boolean
    if isinstance(source, pl.Datetime):
        return target == UTC_MICROS and source.time_zone is not None
    return source in _WIDENS_TO.get(target, set())


def validate_chunk(frame: pl.DataFrame, targets: list[Target], text: bool) -> tuple[pl.DataFrame, pl.Series]:
    """Convert a chunk to the table's columns and list each row's problems.

    Args:
        frame: the chunk as read; every column passed :func:`file_problem`.
        targets: the table's columns.
        text: text values are parsed one by one (a value that does not parse is a row problem).

    Returns:
        The table's columns, converted (null where a value did not convert), and each row's problems (``""`` for
        a good row). The problems are not a column of the frame, so no column name a file uses can clash with them.
    """
    frame = _cast_clean_text_columns(frame, targets) if text else frame
    values, checks = [], []
    for target in targets:
        value, target_checks = _column_checks(frame, target, text)
        values.append(value.alias(target.name))
        checks.extend(target_checks)
    reason = pl.concat_str(
        [pl.when(mask).then(pl.lit(message)) for mask, message in checks] or [pl.lit("")],
        separator="; ",
        ignore_nulls=True,
    )
    checked = frame.select(pl.struct(values).alias("values"), reason.alias("reason"))
    return checked.get_column("values").struct.unnest(), checked.get_column("reason")


def _cast_clean_text_columns(frame: pl.DataFrame, targets: list[Target]) -> pl.DataFrame:
    """Convert each text column whose every value parses with one Arrow cast.

    That is the common case, and an Arrow cast is many times faster than value-by-value parsing; a column
    with any value Arrow cannot parse stays text and is parsed value by value, so each bad value is found.
    """
    converted = []
    for target in targets:
        if frame.schema.get(target.name) != pl.String or target.dtype == pl.String:
            continue
        arrow_type = pl.Series(dtype=target.dtype).to_arrow().type
        try:
            converted.append(pl.Series(target.name, pc.cast(frame.get_column(target.name).to_arrow(), arrow_type)))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return frame.with_columns(converted)


def _column_checks(frame: pl.DataFrame, target: Target, text: bool) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    name = target.name
    if name not in frame.columns:
        return pl.lit(None, target.dtype), []
    source = pl.col(name)
    checks: list[tuple[pl.Expr, str]] = []
    if text and frame.schema[name] == pl.String and target.dtype != pl.String:
        value = _parse_text(source, target.dtype)
        unparsed = source.is_not_null() & value.is_null()
        if target.dtype == UTC_MICROS:
            naive = source.str.contains(NAIVE_TIMESTAMP)
            checks.append((unparsed & naive, f"{name}: timestamp without UTC offset"))
            checks.append((unparsed & ~naive, f"{name}: not a valid timestamp"))
        else:
            checks.append((unparsed, f"{name}: not a valid {_type_name(target.dtype)}"))
    else:
        value = _convert_typed(source, frame.schema[name], target.dtype)
    if target.required:
        checks.append((source.is_null(), f"{name}: missing in a required column"))
    bounded = target.minimum is not None or target.maximum is not None
    if bounded and target.dtype.is_float():
        # NaN has no place in a range (Polars would call it above any maximum); infinities are below or above it
        checks.append((value.is_nan(), f"{name}: not a number (NaN)"))
        value = pl.when(value.is_nan()).then(None).otherwise(value)
    if target.minimum is not None:
        checks.append((value < target.minimum, f"{name}: below min {target.minimum:g}"))
    if target.maximum is not None:
        checks.append((value > target.maximum, f"{name}: above max {target.maximum:g}"))
    if target.allowed is not None:
        checks.append((~value.is_in(target.allowed), f"{name}: not one of {', '.join(target.allowed)}"))
    return value, [(mask.fill_null(False), message) for mask, message in checks]


def _parse_text(text: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == UTC_MICROS:
        return text.str.strip_chars().str.to_datetime("%+", time_zone="UTC", time_unit="us", strict=False)
    if dtype == pl.Date:
        return text.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    if dtype == pl.Boolean:
        words = {"true": True, "false": False, "1": True, "0": False}
        return text.str.strip_chars().str.to_lowercase().replace_strict(words, default=None, return_dtype=pl.Boolean)
    return text.str.strip_chars().cast(dtype, strict=False)


def _convert_typed(value: pl.Expr, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    if source == target:
        return value
    if isinstance(source, pl.Datetime) and target == UTC_MICROS:
        return value.dt.convert_time_zone("UTC").cast(target)
    return value.cast(target)


def _type_name(dtype: pl.DataType) -> str:
    names = {pl.Int64: "long", pl.Int32: "int", pl.Float64: "double", pl.Boolean: "boolean", pl.Date: "date"}
    return next((name for kind, name in names.items() if dtype == kind), str(dtype))
