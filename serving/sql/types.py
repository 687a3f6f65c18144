"""Trino types of result columns and the JSON encoding of their values, as Trino's clients parse them.

DuckDB's result types (from the relation) decide the Trino type name and ``typeSignature``; values arrive as
Arrow batches and are encoded column by column, vectorised with Arrow compute where the type allows it (dates,
times, timestamps, decimals become strings in Trino's exact formats), and value by value only for binary and
nested types.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from duckdb.sqltypes import DuckDBPyType
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from serving.sql.errors import QueryError

UNBOUNDED_VARCHAR = 2_147_483_647
"""Trino's length argument of an unbounded ``varchar``."""

ValueEncoder = Callable[[Any], Any]


@dataclass(frozen=True)
class TrinoType:
    """One Trino type: its display name, its client type signature, and how its values are encoded."""

    name: str
    raw: str
    arguments: tuple[dict[str, Any], ...] = ()
    encode_value: ValueEncoder = field(default=lambda value: value, compare=False, repr=False)
    encode_column: Callable[[pa.Array], list[Any]] | None = field(default=None, compare=False, repr=False)

    def signature(self) -> dict[str, Any]:
        """Trino's ``ClientTypeSignature`` as JSON."""
        return {"rawType": self.raw, "arguments": list(self.arguments)}

    def column(self, name: str) -> dict[str, Any]:
        """The entry of ``columns`` in a statement response."""
        return {"name": name, "type": self.name, "typeSignature": self.signature()}

    def encode_array(self, array: pa.Array) -> list[Any]:
        """Encode one Arrow column of a batch into JSON-ready values (``None`` stays ``null``)."""
        if self.encode_column is not None:
            return self.encode_column(array)
        values = array.to_pylist()
        encode = self.encode_value
        return [None if value is None else encode(value) for value in values]


def _long(value: int) -> dict[str, Any]:
    return {"kind": "LONG", "value": value}


def _type_argument(inner: TrinoType) -> dict[str, Any]:
    return {"kind": "TYPE", "value": inner.signature()}


def _as_strings(array: pa.Array) -> list[Any]:
    try:
        return pc.cast(array, pa.string()).to_pylist()
    except pa.ArrowNotImplementedError:  # a type Arrow cannot cast to text: Python's rendering of each value
        return [None if value is None else str(value) for value in array.to_pylist()]


def _interval_value(value: Any) -> str:
    """A DuckDB interval as DuckDB writes it (``1 year 2 months 3 days 04:05:06.5``): Trino's interval types hold
    months or seconds, a DuckDB interval both, so it is shown as text."""
    years, months = divmod(value.months, 12)
    units = ((years, "year"), (months, "month"), (value.days, "day"))
    parts = [f"{count} {unit}{'' if abs(count) == 1 else 's'}" for count, unit in units if count]
    micros = value.nanoseconds // 1_000
    if micros or not parts:
        seconds, fraction = divmod(abs(micros), 1_000_000)
        hours, rest = divmod(seconds, 3600)
        clock = f"{'-' if micros < 0 else ''}{hours:02}:{rest // 60:02}:{rest % 60:02}"
        parts.append(clock + (f".{fraction:06}".rstrip("0") if fraction else ""))
    return " ".join(parts)


def _hugeints(array: pa.Array) -> list[Any]:
    """DuckDB sums integers into a HUGEINT where Trino's sum of integers is a ``bigint``, which overflows with an
    error; so does this."""
    try:
        return pc.cast(array, pa.int64()).to_pylist()
    except pa.ArrowInvalid:
        raise QueryError(
            "bigint addition overflow: a result does not fit in a bigint; cast the values to decimal(38, 0) first",
            "NUMERIC_VALUE_OUT_OF_RANGE",
        ) from None


def _intervals(array: pa.Array) -> list[Any]:
    return [None if value is None else _interval_value(value) for value in array.to_pylist()]


def _timestamp_tz_strings(array: pa.Array) -> list[Any]:
    wall_clock_utc = pc.cast(array, pa.timestamp(array.type.unit))
    return pc.binary_join_element_wise(pc.cast(wall_clock_utc, pa.string()), " UTC", "").to_pylist()


def _float_value(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _floats(array: pa.Array) -> list[Any]:
    values = array.to_pylist()
    if pc.any(pc.invert(pc.is_finite(array))).as_py():
        return [None if value is None else _float_value(value) for value in values]
    return values


def _time_value(value: time) -> str:
    return value.strftime("%H:%M:%S.%f")


def _timestamp_value(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _timestamp_tz_value(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _binary_value(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _decimal_value(value: Decimal) -> str:
    return format(value, "f")


def _date_value(value: date) -> str:
    return value.isoformat()


def _string_like(name: str, raw: str, args: tuple[dict[str, Any], ...], encode: ValueEncoder) -> TrinoType:
    return TrinoType(name, raw, args, encode, _as_strings)


VARCHAR = TrinoType("varchar", "varchar", (_long(UNBOUNDED_VARCHAR),), str)
BIGINT = TrinoType("bigint", "bigint")
INTEGER = TrinoType("integer", "integer")
SMALLINT = TrinoType("smallint", "smallint")
TINYINT = TrinoType("tinyint", "tinyint")
BOOLEAN = TrinoType("boolean", "boolean")
DOUBLE = TrinoType("double", "double", (), _float_value, _floats)
REAL = TrinoType("real", "real", (), _float_value, _floats)
DATE = _string_like("date", "date", (), _date_value)
VARBINARY = TrinoType("varbinary", "varbinary", (), _binary_value)
UUID_TYPE = TrinoType("uuid", "uuid", (), str)


def decimal_type(precision: int, scale: int) -> TrinoType:
    """``decimal(p,s)``: values as plain decimal strings."""
    return _string_like(f"decimal({precision},{scale})", "decimal", (_long(precision), _long(scale)), _decimal_value)


def time_type(precision: int = 6) -> TrinoType:
    """``time(p)``: values as ``HH:MM:SS.ffffff``."""
    return _string_like(f"time({precision})", "time", (_long(precision),), _time_value)


def timestamp_type(precision: int = 6) -> TrinoType:
    """``timestamp(p)``: values as ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return _string_like(f"timestamp({precision})", "timestamp", (_long(precision),), _timestamp_value)


def timestamp_tz_type(precision: int = 6) -> TrinoType:
    """``timestamp(p) with time zone``: values as UTC instants ``YYYY-MM-DD HH:MM:SS.ffffff UTC``."""
    return TrinoType(
        f"timestamp({precision}) with time zone",
        "timestamp with time zone",
        (_long(precision),),
        _timestamp_tz_value,
        _timestamp_tz_strings,
    )


def array_type(element: TrinoType) -> TrinoType:
    """``array(T)``: a JSON array of encoded elements."""
    encode = element.encode_value
    return TrinoType(
        f"array({element.name})",
        "array",
        (_type_argument(element),),
        lambda values: [None if value is None else encode(value) for value in values],
    )


def map_type(key: TrinoType, value: TrinoType) -> TrinoType:
    """``map(K,V)``: a JSON object whose keys are the encoded keys as strings."""
    encode_key, encode_value = key.encode_value, value.encode_value
    return TrinoType(
        f"map({key.name}, {value.name})",
        "map",
        (_type_argument(key), _type_argument(value)),
        lambda pairs: {str(encode_key(k)): None if v is None else encode_value(v) for k, v in pairs},
    )


def row_type(fields: list[tuple[str, TrinoType]]) -> TrinoType:
    """``row(name T, ...)``: a JSON array of the encoded field values, in field order."""
    names = [name for name, _ in fields]
    encoders = [inner.encode_value for _, inner in fields]
    arguments = tuple(
        {"kind": "NAMED_TYPE", "value": {"fieldName": {"name": name}, "typeSignature": inner.signature()}}
        for name, inner in fields
    )

    def encode(struct: dict[str, Any]) -> list[Any]:
        return [
            None if struct[name] is None else encoder(struct[name])
            for name, encoder in zip(names, encoders, strict=True)
        ]

    return TrinoType(f"row({', '.join(f'{n} {t.name}' for n, t in fields)})", "row", arguments, encode)


_DUCKDB_SIMPLE: dict[str, TrinoType] = {
    "varchar": VARCHAR,
    "bigint": BIGINT,
    "integer": INTEGER,
    "smallint": SMALLINT,
    "tinyint": TINYINT,
    "utinyint": SMALLINT,
    "usmallint": INTEGER,
    "uinteger": BIGINT,
    "boolean": BOOLEAN,
    "double": DOUBLE,
    "float": REAL,
    "date": DATE,
    "blob": VARBINARY,
    "uuid": UUID_TYPE,
    "time": time_type(6),
    "timestamp": timestamp_type(6),
    "timestamp_s": timestamp_type(0),
    "timestamp_ms": timestamp_type(3),
    "timestamp_ns": timestamp_type(9),
    "timestamp with time zone": timestamp_tz_type(6),
    "hugeint": TrinoType("bigint", "bigint", (), int, _hugeints),
    "ubigint": decimal_type(20, 0),
}


_NESTED_OR_PARAMETRIC = ("decimal", "list", "array", "map", "struct")


def from_duckdb(duck: DuckDBPyType) -> TrinoType:
    """The Trino type a DuckDB result column is reported as (unknown DuckDB types become ``varchar``)."""
    kind = duck.id
    if kind in _DUCKDB_SIMPLE:
        return _DUCKDB_SIMPLE[kind]
    children: list[tuple[str, Any]] = list(duck.children) if kind in _NESTED_OR_PARAMETRIC else []
    if kind == "decimal":
        params = dict(children)
        return decimal_type(int(params["precision"]), int(params["scale"]))
    if kind in ("list", "array"):
        return array_type(from_duckdb(children[0][1]))
    if kind == "map":
        return map_type(from_duckdb(dict(children)["key"]), from_duckdb(dict(children)["value"]))
    if kind == "struct":
        return row_type([(name, from_duckdb(child)) for name, child in children])
    converter = _intervals if kind == "interval" else _as_strings
    return TrinoType("varchar", "varchar", (_long(UNBOUNDED_VARCHAR),), str, converter)


def from_iceberg(iceberg: IcebergType) -> str:
    """The Trino type name Trino's Iceberg connector shows for an Iceberg column type."""
    simple: dict[type, str] = {
        StringType: "varchar",
        LongType: "bigint",
        IntegerType: "integer",
        FloatType: "real",
        DoubleType: "double",
        BooleanType: "boolean",
        DateType: "date",
        TimeType: "time(6)",
        TimestampType: "timestamp(6)",
        TimestamptzType: "timestamp(6) with time zone",
        BinaryType: "varbinary",
        FixedType: "varbinary",
        UUIDType: "uuid",
    }
    for iceberg_class, name in simple.items():
        if isinstance(iceberg, iceberg_class):
            return name
    if isinstance(iceberg, DecimalType):
        return f"decimal({iceberg.precision},{iceberg.scale})"
    if isinstance(iceberg, ListType):
        return f"array({from_iceberg(iceberg.element_type)})"
    if isinstance(iceberg, MapType):
        return f"map({from_iceberg(iceberg.key_type)}, {from_iceberg(iceberg.value_type)})"
    if isinstance(iceberg, StructType):
        return f"row({', '.join(f'{f.name} {from_iceberg(f.field_type)}' for f in iceberg.fields)})"
    return "varchar"
