"""Turning landing values into typed warehouse values, one bad value at a time.

A whole column converts at Arrow speed when every value is good; only a column with a bad value falls back to
converting value by value, so that each bad row gets its own reason while the good rows of the batch load.
Timestamps are stored as UTC without a zone: an offset is applied, no offset means UTC (`sources.md`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc

from ..sources import MONEY, Column, ColumnType

UTC_TIMESTAMP = pa.timestamp("us")
EARLIEST = datetime(2000, 1, 1)  # no source system of a retailer records anything before it

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: UTC_TIMESTAMP,
    ColumnType.UNIX_SECONDS: UTC_TIMESTAMP,
    ColumnType.DATE: pa.date32(),
    ColumnType.DECIMAL: MONEY,
    ColumnType.INTEGER: pa.int64(),
}
CENT = Decimal("0.01")
NO_TEXT = pa.scalar(None, pa.string())


class BadValue(ValueError):
    """A value that cannot be read as its column's type; the message becomes the quarantine reason."""


def latest() -> datetime:
    """The last moment a landing timestamp may name: the end of next year (a later one is a typo or a default)."""
    return datetime(datetime.now().year + 1, 12, 31, 23, 59, 59)


def value_problems(
    column: Column, values: pa.Array, allowed: tuple[str, ...] | None, latest_moment: datetime
) -> dict[int, str]:
    """Rows of a typed column whose value is well formed but not allowed: a value outside its column's set
    (compared trimmed and lower-cased, as staging reads it) or a timestamp outside 2000 .. next year."""
    problems: dict[int, str] = {}
    if allowed is not None and pa.types.is_string(values.type):
        normalised = pc.utf8_lower(pc.utf8_trim_whitespace(values))
        outside = pc.invert(pc.is_in(normalised, value_set=pa.array(allowed, pa.string())))
        outside = pc.and_kleene(outside, pc.is_valid(values))
        for index in pc.indices_nonzero(pc.fill_null(outside, False)).to_pylist():
            value = values[index].as_py()
            problems[index] = f"{column.name}: {value[:40]!r} is not one of {', '.join(repr(v) for v in allowed)}"
    if column.type in (ColumnType.TIMESTAMP, ColumnType.UNIX_SECONDS) and pa.types.is_timestamp(values.type):
        early = pc.less(values, pa.scalar(EARLIEST, UTC_TIMESTAMP))
        late = pc.greater(values, pa.scalar(latest_moment, UTC_TIMESTAMP))
        for index in pc.indices_nonzero(pc.fill_null(pc.or_(early, late), False)).to_pylist():
            shown = values.slice(index, 1).cast(pa.string())[0].as_py()  # Python's datetime stops at year 9999
            problems[index] = f"{column.name}: {shown} is outside {EARLIEST.year} .. {latest_moment.year}"
    return problems


def arrow_type(column: Column) -> pa.DataType:
    if column.type is ColumnType.NESTED:
        assert column.nested_type is not None, f"{column.name} is NESTED without a nested_type"
        return column.nested_type
    return ARROW_TYPES[column.type]


def to_timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise BadValue(f"unparseable timestamp {value[:40]!r}") from None
    else:
        raise BadValue(f"a timestamp must be an ISO 8601 string, not {type(value).__name__}")
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:00:00-05:00 is after the last moment there is
            raise BadValue(f"timestamp {str(value)[:40]!r} is out of range once its offset is applied") from None
    return moment


def to_unix_timestamp(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadValue(f"a Unix timestamp must be a number, not {type(value).__name__}")
    try:
        return datetime.fromtimestamp(float(value), tz=UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        raise BadValue(f"unparseable Unix timestamp {str(value)[:40]!r}") from None


def to_decimal(value: object) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadValue(f"unparseable number {str(value)[:40]!r}") from None
    if not number.is_finite() or number != number.quantize(CENT) or abs(number) >= 10**10:
        raise BadValue(f"{str(value)[:40]!r} is not an amount with at most 2 decimals and 10 digits")
    return number.quantize(CENT)


INT64 = 2**63


def to_integer(value: object) -> int:
    if isinstance(value, bool):
        raise BadValue("a boolean is not an integer")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BadValue(f"unparseable integer {str(value)[:40]!r}") from None
    if not -INT64 <= number < INT64:
        raise BadValue(f"integer {str(value)[:40]!r} does not fit in 64 bits")
    return number


def to_date(value: object) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadValue(f"unparseable date {str(value)[:40]!r}") from None


PARSERS = {
    ColumnType.TIMESTAMP: to_timestamp,
    ColumnType.UNIX_SECONDS: to_unix_timestamp,
    ColumnType.DECIMAL: to_decimal,
    ColumnType.INTEGER: to_integer,
    ColumnType.DATE: to_date,
}


def convert_value(column: Column, value: object) -> object:
    """One value, as JSON or a file gave it, to its column's type; empty means missing (None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if column.required:
            raise BadValue(f"missing {column.name}")
        return None
    if column.type is ColumnType.STRING:
        if isinstance(value, (dict, list)):
            raise BadValue(f"{column.name} must be a string, not a JSON {type(value).__name__}")
        text = str(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # JSON's "\ud800": an escape for half of a character
            raise BadValue(f"{column.name}: {text[:40]!r} holds half of a character (a lone surrogate)") from None
        return text
    if column.type is ColumnType.NESTED:
        try:
            return pa.array([value], type=arrow_type(column))[0].as_py()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as error:
            raise BadValue(f"{column.name}: {str(error)[:160]}") from None
    try:
        return PARSERS[column.type](value)
    except BadValue as error:
        raise BadValue(f"{column.name}: {error}") from None


def convert_array(column: Column, values: pa.Array) -> tuple[pa.Array, dict[int, str]]:
    """A column of a batch to its type; returns the converted column and the reason for each bad row."""
    target = arrow_type(column)
    if column.type is ColumnType.STRING and pa.types.is_string(values.type):
        return values, _missing(column, values)  # raw keeps strings exactly as delivered
    if values.type == target:  # typed already (Parquet, or a number JSON gave): only a missing value is bad
        return values, _missing(column, values)
    fast = _fast_convert(column, values, target)
    if fast is not None and (not column.required or fast.null_count == 0):
        return fast, {}
    if column.type is ColumnType.NESTED:
        return _cast_one_by_one(column, values, target)
    if column.type is ColumnType.TIMESTAMP and pa.types.is_string(values.type):
        apart = _odd_timestamps_apart(column, values, target)
        if apart is not None:
            return apart
    return _in_halves(column, values, target)


def _in_halves(column: Column, values: pa.Array, target: pa.DataType) -> tuple[pa.Array, dict[int, str]]:
    pieces: list[pa.Array] = []
    bad: dict[int, str] = {}
    _convert_in_halves(column, values, target, 0, pieces, bad)
    chunks = [chunk for piece in pieces for chunk in getattr(piece, "chunks", [piece])]
    return pa.chunked_array(chunks, type=target).combine_chunks(), bad


# The shape of an ISO 8601 timestamp Arrow may read; a value of another shape ("yesterday", "01/10/2026") is read
# by Python alone, without costing its batch a cast of every half it is in.
ISO_SHAPE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?$"
PLACEHOLDER = pa.scalar("2000-01-01T00:00:00", pa.string())


def _odd_timestamps_apart(
    column: Column, values: pa.Array, target: pa.DataType
) -> tuple[pa.Array, dict[int, str]] | None:
    """A text column of timestamps some of which are not shaped like ISO 8601: those few are read one at a time
    by Python (each bad one with its reason), the others in halves at Arrow speed; None when there are none (or
    too many to be worth it)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    trimmed = pc.utf8_trim_whitespace(values)
    odd = pc.fill_null(
        pc.and_(pc.invert(pc.match_substring_regex(trimmed, ISO_SHAPE)), pc.not_equal(trimmed, "")), False
    )
    indices = pc.indices_nonzero(odd).to_pylist()
    if not indices or len(indices) > len(values) // 4:
        return None
    converted, bad = _in_halves(column, pc.if_else(odd, PLACEHOLDER, values), target)
    own: list[object] = []
    for index in indices:
        try:
            own.append(convert_value(column, values[index].as_py()))
        except BadValue as error:
            own.append(None)
            bad[index] = str(error)
    return pc.replace_with_mask(converted, odd, pa.array(own, target)), dict(sorted(bad.items()))


ONE_BY_ONE = 16  # a piece this small with a bad value in it is converted value by value


def _convert_in_halves(
    column: Column, values: pa.Array, target: pa.DataType, offset: int, pieces: list[pa.Array], bad: dict[int, str]
) -> None:
    """Converts a column with a bad value in it: each half that converts whole at Arrow speed is kept, the others
    are halved again, down to pieces of `ONE_BY_ONE` values converted one at a time (each bad value with its
    reason). A batch with a few bad values costs a few more whole casts, not a Python call a value."""
    if len(values) > ONE_BY_ONE:
        fast = _fast_convert(column, values, target)
        if fast is not None and (not column.required or fast.null_count == 0):
            pieces.append(fast)
            return
        middle = len(values) // 2
        _convert_in_halves(column, values.slice(0, middle), target, offset, pieces, bad)
        _convert_in_halves(column, values.slice(middle), target, offset + middle, pieces, bad)
        return
    converted: list[object] = []
    for index, value in enumerate(values.to_pylist()):
        try:
            converted.append(convert_value(column, value))
        except BadValue as error:
            converted.append(None)
            bad[offset + index] = str(error)
    pieces.append(pa.array(converted, type=target))


def _cast_one_by_one(column: Column, values: pa.Array, target: pa.DataType) -> tuple[pa.Array, dict[int, str]]:
    """A nested column the file types otherwise than the contract, cast a row at a time: a row whose value does
    not cast is quarantined with Arrow's reason, the others keep theirs."""
    pieces: list[pa.Array] = []
    bad: dict[int, str] = {}
    for index in range(len(values)):
        try:
            alone = pa.array(values.slice(index, 1).to_pylist(), type=values.type)  # a slice casts all its children
            pieces.append(alone.cast(target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
            pieces.append(pa.nulls(1, target))
            bad[index] = f"{column.name}: {str(error)[:160]}"
    return (pa.concat_arrays(pieces) if pieces else pa.array([], target)), bad


def _missing(column: Column, values: pa.Array) -> dict[int, str]:
    """The rows of a required column with no value: null, or (text) empty once trimmed."""
    if not column.required:
        return {}
    empty = pc.is_null(values)
    if pa.types.is_string(values.type):
        empty = pc.fill_null(pc.or_kleene(empty, pc.equal(pc.utf8_trim_whitespace(values), "")), True)
    return {index.as_py(): f"missing {column.name}" for index in pc.indices_nonzero(empty)}


def _fast_convert(column: Column, values: pa.Array, target: pa.DataType) -> pa.Array | None:
    """The whole column at once, or None where any value needs a closer look."""
    if column.type is ColumnType.NESTED:
        try:
            return values.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    if pa.types.is_string(values.type):
        trimmed = pc.utf8_trim_whitespace(values)
        values = pc.if_else(pc.equal(trimmed, ""), NO_TEXT, trimmed)
    if column.type is ColumnType.UNIX_SECONDS:
        return None
    candidates = [target]
    if column.type is ColumnType.TIMESTAMP:
        if pa.types.is_string(values.type):
            return _fast_timestamps(values)
        candidates = [pa.timestamp("us", tz="UTC"), UTC_TIMESTAMP]  # with offsets, then without
    for candidate in candidates:
        try:
            converted = values.cast(candidate).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue
        return converted
    return None


# A time of day followed by an offset (Z, +02, +0200, +02:00): Arrow casts these to a moment in UTC, and the
# others, without one, as UTC already; a column may hold both kinds.
ZONED = r"[T ]\d{2}:\d{2}.*([Zz]|[+-]\d{2}(:?\d{2})?)$"


def _fast_timestamps(values: pa.Array) -> pa.Array | None:
    """A text column of ISO 8601 timestamps, those with an offset and those without cast apart at Arrow speed;
    None where any value needs a closer look."""
    zoned = pc.fill_null(pc.match_substring_regex(values, ZONED), False)
    try:
        with_offset = pc.if_else(zoned, values, NO_TEXT).cast(pa.timestamp("us", tz="UTC")).cast(UTC_TIMESTAMP)
        without = pc.if_else(zoned, NO_TEXT, values).cast(UTC_TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    converted = pc.if_else(zoned, with_offset, without)
    if _past_the_calendar(converted):
        return None  # Python says why: its calendar ends at 9999, where Arrow's goes on
    return converted


LAST_MOMENT = pa.scalar(datetime(9999, 12, 31, 23, 59, 59, 999999), UTC_TIMESTAMP)
FIRST_MOMENT = pa.scalar(datetime(1, 1, 1), UTC_TIMESTAMP)


def _past_the_calendar(moments: pa.Array) -> bool:
    outside = pc.or_(pc.greater(moments, LAST_MOMENT), pc.less(moments, FIRST_MOMENT))
    return bool(pc.any(outside).as_py())
