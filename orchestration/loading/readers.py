"""Streaming readers for the landing formats: CSV, JSONL and Parquet, with pyarrow.

Each reader yields batches of typed rows in the source's raw layout, each with the rows of that stretch of the
file that could not be read (quarantined, with their line and reason). Memory is bounded by the batch size, not
the file size. A problem with the file as a whole (a header that does not match the contract, a file that is
not CSV or Parquet at all) raises `LandingFileError` before anything is loaded.
"""

from __future__ import annotations

import csv
import io
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..sources import VALUE_SETS, Column, ColumnType, FileFormat, Source
from .convert import (
    UTC_TIMESTAMP,
    BadValue,
    arrow_type,
    convert_array,
    convert_value,
    latest,
    value_problems,
)
from .landing import LandingFile, open_bytes

BATCH_ROWS = 65_536
UTF8_BOM = b"\xef\xbb\xbf"
CSV_BLOCK_BYTES = 8 << 20


class LandingFileError(Exception):
    """A landing file that cannot be loaded at all; the message names the file and what to do."""


def _one_line(error: BaseException) -> str:
    """A library's error as one line of at most 200 characters, for a summary."""
    return " ".join(str(error).split())[:200]


@dataclass(frozen=True)
class Quarantined:
    line: int  # JSONL, CSV: the line (where a record spanning lines starts; the header is 1); Parquet: the row
    reason: str
    content: str  # the row as it was delivered, so it can be fixed and replayed


@dataclass
class Batch:
    table: pa.Table  # the good rows: contract columns, their position (`_line` or `_row`), and `payload`
    quarantined: list[Quarantined] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.table.num_rows


def position_column(source: Source) -> str:
    return "_row" if source.format is FileFormat.PARQUET else "_line"


def raw_schema(source: Source) -> pa.Schema:
    """The Arrow layout of a source's raw rows, before the loader adds `_file` and `_loaded_at`."""
    fields = [pa.field(column.name, arrow_type(column)) for column in source.columns]
    fields.append(pa.field(position_column(source), pa.int64()))
    if source.format is FileFormat.JSONL:
        fields.append(pa.field("payload", pa.string()))
    return pa.schema(fields)


ValueSets = dict[str, tuple[str, ...]]  # column -> the values it may hold


def read(
    file: LandingFile,
    source: Source,
    batch_rows: int = BATCH_ROWS,
    value_sets: ValueSets | None = None,
) -> Iterator[Batch]:
    """The batches of one landing file. `value_sets`: the enumerated columns' allowed values (default: the
    contract's, `sources.VALUE_SETS`); a row holding another value is quarantined with the reason, like a row
    that does not parse."""
    readers = {FileFormat.CSV: read_csv, FileFormat.JSONL: read_jsonl, FileFormat.PARQUET: read_parquet}
    allowed = VALUE_SETS.get(source.name, {}) if value_sets is None else value_sets
    return readers[source.format](file, source, batch_rows, allowed)


def _check_columns(display_name: str, source: Source, found: list[str]) -> None:
    missing = [name for name in source.column_names if name not in found]
    unknown = [name for name in found if name not in source.column_names]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        raise LandingFileError(
            f"{display_name}: {' and '.join(problems)}; the {source.name} contract is: "
            f"{', '.join(source.column_names)} (see docs/contracts/sources.md)"
        )


def _typed_batch(
    source: Source,
    columns: dict[str, pa.Array],
    positions: list[int],
    row_text,
    allowed: ValueSets,
    extra: dict[str, pa.Array] | None = None,
) -> Batch:
    """Converts raw columns to their types; rows with a bad value go to quarantine, the others stay. `extra`:
    columns of the raw layout kept as they are (JSON's `payload`)."""
    reasons: dict[int, list[str]] = {}
    typed = {}
    latest_moment = latest()
    for column in source.columns:
        typed[column.name], bad = convert_array(column, columns[column.name])
        bad.update(value_problems(column, typed[column.name], allowed.get(column.name), latest_moment))
        for index, reason in bad.items():
            reasons.setdefault(index, []).append(reason)
    typed[position_column(source)] = pa.array(positions, pa.int64())
    typed.update(extra or {})
    table = pa.table(typed, schema=raw_schema(source))
    if not reasons:
        return Batch(table)
    keep = pa.array([index not in reasons for index in range(table.num_rows)])
    quarantined = [Quarantined(positions[index], "; ".join(why), row_text(index)) for index, why in reasons.items()]
    return Batch(table.filter(keep), quarantined)


def read_csv(file: LandingFile, source: Source, batch_rows: int, allowed: ValueSets) -> Iterator[Batch]:
    """pyarrow reads the file a block at a time. A block with a record that spans lines (a quoted value with a
    line break, or a quote left open) or bytes that are not UTF-8 is read again, from its first line to the end
    of the file, line by line (`_careful_records`), so that every row is counted by its own line: a row that is
    broken goes to quarantine alone and the rows after it load."""
    display_name = file.name
    invalid: list[Quarantined] = []
    if file.path.stat().st_size == 0:
        return  # an empty export (no header, no rows): loaded as no rows, once, rather than refused every run

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        reason = f"expected {row.expected_columns} columns, found {row.actual_columns}"
        invalid.append(Quarantined(row.number if row.number is not None else -1, reason, row.text))
        return "skip"

    with open_bytes(file) as stream:
        try:
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.binary() for name in source.column_names}, strings_can_be_null=False
                ),
            )
        except (pa.ArrowInvalid, OSError) as error:
            if "Empty CSV file" in str(error):
                return  # a compressed empty export
            raise LandingFileError(f"{display_name}: not a readable CSV file ({_one_line(error)})") from None
        _check_columns(display_name, source, reader.schema.names)
        next_line = 2  # line 1 is the header; until a record spans lines, a record's number is its line's
        while True:
            try:
                record_batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, OSError) as error:
                raise LandingFileError(f"{display_name}: cannot be read as CSV ({_one_line(error)})") from None
            columns = _utf8_columns(source, record_batch)
            if columns is None or any(NEWLINE in q.content for q in invalid):
                invalid[:] = [q for q in invalid if q.line < next_line]
                yield from _flush_invalid(source, invalid)
                yield from _read_csv_carefully(file, source, next_line, batch_rows, allowed)
                return
            skipped = {q.line for q in invalid}
            positions = []
            while len(positions) < record_batch.num_rows:
                if next_line not in skipped:
                    positions.append(next_line)
                next_line += 1
            batch = _typed_batch(source, columns, positions, partial(_csv_text, columns), allowed)
            batch.quarantined = invalid + batch.quarantined
            invalid.clear()
            yield batch
    yield from _flush_invalid(source, invalid)


NEWLINE = "\n"


def _flush_invalid(source: Source, invalid: list[Quarantined]) -> Iterator[Batch]:
    if invalid:
        yield Batch(raw_schema(source).empty_table(), list(invalid))
        invalid.clear()


def _utf8_columns(source: Source, record_batch: pa.RecordBatch) -> dict[str, pa.Array] | None:
    """The batch's columns as text, or None when a value holds a line break or is not UTF-8 (read carefully)."""
    columns = {}
    for name in source.column_names:
        column = record_batch.column(name)
        if pc.any(pc.match_substring(column, "\n")).as_py():
            return None
        try:
            columns[name] = column.cast(pa.string())
        except pa.ArrowInvalid:
            return None
    return columns


def _read_csv_carefully(
    file: LandingFile, source: Source, first_line: int, batch_rows: int, allowed: ValueSets
) -> Iterator[Batch]:
    """From line `first_line` on, a record at a time (`_careful_records`), in batches of `batch_rows`."""
    names = source.column_names
    values: dict[str, list[str]] = {name: [] for name in names}
    positions: list[int] = []
    quarantined: list[Quarantined] = []

    def batch() -> Batch:
        columns = {name: pa.array(values[name], pa.string()) for name in names}
        rows = list(zip(*(values[name] for name in names), strict=True))
        out = _typed_batch(source, columns, positions, lambda index: _csv_line(list(rows[index])), allowed)
        out.quarantined = sorted(quarantined + out.quarantined, key=lambda q: q.line)
        return out

    for line, fields, problem, text in _careful_records(file, len(names), first_line):
        if problem:
            quarantined.append(Quarantined(line, problem, text))
        else:
            for name, value in zip(names, fields, strict=True):
                values[name].append(value)
            positions.append(line)
        if len(positions) + len(quarantined) >= batch_rows:
            yield batch()
            values, positions, quarantined = {name: [] for name in names}, [], []
    if positions or quarantined:
        yield batch()


def _careful_records(file: LandingFile, width: int, first_line: int) -> Iterator[tuple[int, list[str], str, str]]:
    """The records of a CSV file from `first_line` on, as (line, fields, problem, text): problem is "" for a good
    record. A quoted value may span lines (RFC 4180), but a quote left open does not swallow the rows after it:
    while a quote is open, a following line that is a whole record on its own (balanced quotes, `width` fields)
    shows the open quote was a mistake, and the opening line alone is quarantined."""
    with open_bytes(file) as stream:
        numbered = enumerate(_lines(stream, file.name), start=1)
        lines = ((number, raw) for number, raw in numbered if number >= first_line)
        queue: deque[tuple[int, str]] = deque()
        pending: list[tuple[int, str]] = []  # the lines of a record whose quote is still open
        while True:
            if queue:
                number, text = queue.popleft()
            else:
                taken = next(lines, None)
                if taken is None:
                    break
                number, text = taken[0], taken[1].decode("utf-8", "surrogateescape").rstrip("\r\n")
            if pending:
                if text.count('"') % 2 == 0 and _fields(text, width) == width:
                    yield pending[0][0], [], UNBALANCED, pending[0][1]
                    queue.extendleft(reversed([*pending[1:], (number, text)]))
                    pending = []
                    continue
                pending.append((number, text))
                if sum(part.count('"') for _, part in pending) % 2 == 0:
                    yield _record(pending[0][0], NEWLINE.join(part for _, part in pending), width)
                    pending = []
                continue
            if not text.strip() and not queue:
                continue  # a blank line is no row
            if text.count('"') % 2:
                pending = [(number, text)]
                continue
            yield _record(number, text, width)
        if pending:  # a quote still open at the end of the file
            yield pending[0][0], [], UNBALANCED, pending[0][1]
            for number, text in pending[1:]:
                yield _record(number, text, width)


UNBALANCED = "an unbalanced quote (a quoted value is not closed on its line)"


def _fields(text: str, width: int) -> int:
    try:
        return len(next(csv.reader([text], strict=True), []))
    except csv.Error:
        return -1


def _record(line: int, text: str, width: int) -> tuple[int, list[str], str, str]:
    shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if _has_surrogates(text):
        return line, [], "not valid UTF-8 (the file must be UTF-8: was this row saved as Latin-1?)", shown
    try:
        fields = next(csv.reader(io.StringIO(text, newline=""), strict=True), [])
    except csv.Error as error:
        return line, [], f"not a CSV row ({error})", shown
    if len(fields) != width:
        return line, [], f"expected {width} columns, found {len(fields)}", shown
    return line, fields, "", shown


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def _csv_text(columns: dict[str, pa.Array], index: int) -> str:
    return _csv_line([column[index].as_py() for column in columns.values()])


def _csv_line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def _lookup(event: dict, path: str) -> object:
    value: object = event
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


JSON_BLOCK_BYTES = 8 << 20
SCAN_ROWS = 8_192  # the lines DuckDB's bulk query reads a piece at a time
NESTING_LIMIT = 500  # brackets a line may hold and still be read in bulk; Python's reader stops near 1,000 levels
# The JSON types a column's value may have to be read in bulk: those DuckDB turns into the same text or number as
# Python does (an integer's digits, yes; a float's or a boolean's text, no: 1e5 is '100000.0' and true 'True').
JSON_TYPES: dict[ColumnType, frozenset[str]] = {
    ColumnType.STRING: frozenset({"VARCHAR", "BIGINT", "UBIGINT", "NULL"}),
    ColumnType.TIMESTAMP: frozenset({"VARCHAR", "NULL"}),
    ColumnType.UNIX_SECONDS: frozenset({"BIGINT", "UBIGINT", "DOUBLE", "NULL"}),
}
LATEST_UNIX_SECONDS = 10**11  # past this (year 5138) Python's datetime gives up; the line reader says why


def read_jsonl(file: LandingFile, source: Source, batch_rows: int, allowed: ValueSets) -> Iterator[Batch]:
    """One JSON object a line; the whole original object is kept as `payload`, the contract fields typed.

    Read in bulk: a block of lines at a time, DuckDB's JSON functions check every line and pull out the contract
    fields, and Arrow converts the columns. The lines the bulk reading cannot vouch for (not UTF-8, not JSON,
    not an object, nested deeply, a key given twice, a trailing comma, a field of another JSON type than its
    column's) are read again one at a time by `_json_lines`, which gives each bad line its own reason; so every
    line is either a row or quarantined."""
    bulk = duckdb.connect()
    query = _bulk_json_query(source)
    try:
        for block, first_line in _line_blocks(file):
            for start in range(0, len(block), batch_rows):
                lines = block[start : start + batch_rows]
                yield _json_batch(bulk, query, source, lines, first_line + start, allowed)
    finally:
        bulk.close()


def _line_blocks(file: LandingFile) -> Iterator[tuple[pa.BinaryArray, int]]:
    """The file's lines (without their line breaks), a block of about `JSON_BLOCK_BYTES` at a time, and the number
    of each block's first line. A byte-order mark before the first line is not part of it."""
    first_line, rest = 1, b""
    with open_bytes(file) as stream:
        while True:
            try:
                chunk = stream.read(JSON_BLOCK_BYTES)
            except OSError as error:
                raise _undecompressable(file.name, error) from None
            if first_line == 1 and not rest and chunk.startswith(UTF8_BOM):
                chunk = chunk[len(UTF8_BOM) :]
            data = rest + chunk
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            if cut == 0 and chunk:  # no line ends in this chunk yet
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            if block:
                data_bytes = np.frombuffer(block, dtype=np.uint8)
                breaks = data_bytes == ord("\n")
                ends = np.flatnonzero(breaks)  # where each line ends, once the line breaks are taken out
                ends -= np.arange(len(ends))
                content = data_bytes[~breaks]
                if not ends.size or block[-1:] != b"\n":
                    ends = np.append(ends, len(content))
                offsets = np.concatenate([[0], ends]).astype(np.int32)
                lines = pa.Array.from_buffers(
                    pa.binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(content)]
                )
                yield lines, first_line
                first_line += len(ends)
            if not chunk:
                return


def _json_batch(
    bulk: duckdb.DuckDBPyConnection,
    query: str,
    source: Source,
    lines: pa.BinaryArray,
    first_line: int,
    allowed: ValueSets,
) -> Batch:
    """One batch of lines: read in bulk by `query` (`_bulk_json_query`), the rest by the line reader."""
    numbers = pa.array(range(first_line, first_line + len(lines)), pa.int64())
    try:
        text = lines.cast(pa.string())
        careful = pa.array(np.zeros(len(lines), dtype=bool))
    except pa.ArrowInvalid:  # a line that is not UTF-8: the line reader names it, the others are read in bulk
        utf8 = [_is_utf8(line) for line in lines.to_pylist()]
        careful = pc.invert(pa.array(utf8))
        text = pc.if_else(careful, pa.scalar(b"", pa.binary()), lines).cast(pa.string())
    # in pieces, which DuckDB's threads read side by side (one piece would keep one thread busy)
    lines_table = pa.Table.from_batches(  # noqa: F841 (read by DuckDB)
        pa.table({"n": numbers, "text": text, "careful": careful}).to_batches(max_chunksize=SCAN_ROWS)
    )
    found = bulk.sql(query).to_arrow_table()
    ok = pc.and_(pc.invert(found["careful"]), pc.fill_null(found["shaped"], False))
    fields = {column.name: found[f"field{index}"].combine_chunks() for index, column in enumerate(source.columns)}
    unix = [column.name for column in source.columns if column.type is ColumnType.UNIX_SECONDS]
    for name in unix:
        seconds = fields[name].cast(pa.float64())
        in_range = pc.fill_null(pc.less(pc.abs(seconds), LATEST_UNIX_SECONDS), True)
        ok = pc.and_(ok, in_range)
        fields[name] = pc.if_else(in_range, seconds, pa.scalar(None, pa.float64()))
    ok = pc.fill_null(ok, False)
    blank = found["blank"]
    bulk_rows = pc.and_(ok, pc.invert(blank))
    by_line = pc.or_(found["careful"], pc.and_(pc.invert(ok), pc.invert(blank)))

    kept = found.filter(bulk_rows)
    payload = kept["payload"].combine_chunks()
    columns = {}
    for column in source.columns:
        value = fields[column.name].filter(bulk_rows)
        if column.type is ColumnType.UNIX_SECONDS:
            micros = pc.round(pc.multiply(value, 1_000_000)).cast(pa.int64())
            value = micros.cast(UTC_TIMESTAMP)
        else:
            value = pc.if_else(pc.equal(pc.utf8_trim_whitespace(value), ""), pa.scalar(None, pa.string()), value)
        columns[column.name] = value
    positions = kept["n"].to_pylist()
    shown = lambda index: payload[index].as_py()  # noqa: E731
    batch = _typed_batch(source, columns, positions, shown, allowed, {"payload": payload})

    again = found["n"].filter(by_line).combine_chunks()
    if not len(again):
        return batch
    raw_lines = lines.take(pc.subtract(again, first_line)).to_pylist()
    careful_batch = _json_lines(source, zip(again.to_pylist(), raw_lines, strict=True), allowed)
    table = pa.concat_tables([batch.table, careful_batch.table]).sort_by(position_column(source))
    return Batch(table, sorted(batch.quarantined + careful_batch.quarantined, key=lambda q: q.line))


# RE2's spelling of the white space around a line: what bytes.strip() removes (a line of nothing else is no line
# at all), and what JSON allows around a value (a JSON line's payload is trimmed of it)
BLANK_LINE = r"^[ \t\n\r\x0b\x0c]*$"
JSON_PADDED = r"^[ \t\n\r]|[ \t\n\r]$"
JSON_BLANKS = "' ' || chr(9) || chr(10) || chr(13)"


def _bulk_json_query(source: Source) -> str:
    """The one DuckDB query that checks a block's lines and pulls out the contract fields: per line, `shaped` (an
    object DuckDB reads as Python does, each field of a JSON type that reads as its column's), `blank`, the
    trimmed `payload`, and each field's text (`field0`, `field1`, ... in the contract's order; null when absent).

    What DuckDB reads otherwise than Python makes a line not `shaped`: a key on a field's path given twice
    (Python keeps the last value, DuckDB the first), a comma before a closing bracket (DuckDB allows it),
    nesting deeper than Python reads, a field of another JSON type than its column's (`JSON_TYPES`). Every line
    is parsed by DuckDB's JSON functions, in parallel; only the fields and the payload come back, as text."""
    paths = ["$"] + [f"$.{column.path or column.name}" for column in source.columns]
    keys: dict[str, list[str]] = {}  # parent path -> the keys under it that a contract field's path goes through
    for column in source.columns:
        parent = "$"
        for key in (column.path or column.name).split("."):
            keys.setdefault(parent, [])
            if key not in keys[parent]:
                keys[parent].append(key)
            parent = f"{parent}.{key}"
    parents = list(keys)
    once = [
        f"coalesce(list_position(list_slice(keys{index}, list_position(keys{index}, {_literal(key)}) + 1, -1), "
        f"{_literal(key)}), 0) = 0"
        for index, parent in enumerate(parents)
        for key in keys[parent]
    ]
    fits = [  # a field absent (null) or of a JSON type that reads as its column's
        f"coalesce(types[{index}] in ({', '.join(map(_literal, sorted(JSON_TYPES[column.type])))}), true)"
        for index, column in enumerate(source.columns, start=2)
    ]
    fields = [
        f'case when {fit} then "values"[{index}] end as field{index - 1}' for index, fit in enumerate(fits, start=1)
    ]
    key_lists = ", ".join(f"json_keys(json_text, {_literal(parent)}) as keys{i}" for i, parent in enumerate(parents))
    shaped = " and ".join(
        [
            "types[1] = 'OBJECT'",
            *once,
            *fits,
            f"strlen(text) - strlen(replace(replace(text, '{{', ''), '[', '')) < {NESTING_LIMIT}",
            "not regexp_matches(text, ',\\s*[\\]}]')",
        ]
    )
    return f"""
        select n, careful, {shaped} as shaped,
            regexp_matches(text, {_literal(BLANK_LINE)}) as blank,
            case when regexp_matches(text, {_literal(JSON_PADDED)}) then trim(text, {JSON_BLANKS}) else text end
                as payload,
            {", ".join(fields)}
        from (
            select n, careful, text, json_type(json_text, {_list(paths)}) as types,
                json_extract_string(json_text, {_list(paths[1:])}) as "values", {key_lists}
            from (
                select *, case when not careful and json_valid(text) then text else 'null' end as json_text
                from lines_table
            )
        )
        """


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(texts: list[str]) -> str:
    """A constant list, so that DuckDB reads the JSON paths once, not once a line."""
    return "[" + ", ".join(map(_literal, texts)) + "]"


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_lines(source: Source, numbered: Iterable[tuple[int, bytes]], allowed: ValueSets) -> Batch:
    """Lines read one at a time, as Python's JSON reader sees them: each a row or quarantined with its reason."""
    columns: list[Column] = list(source.columns)
    schema = raw_schema(source)
    values: dict[str, list] = {name: [] for name in schema.names}
    quarantined: list[Quarantined] = []
    for number, raw in numbered:
        try:
            text = raw.decode("utf-8").strip()
            event = json.loads(text)
            if not isinstance(event, dict):
                raise BadValue(f"a line must be a JSON object, not a JSON {type(event).__name__}")
            row = [convert_value(column, _lookup(event, column.path or column.name)) for column in columns]
        except UnicodeDecodeError:
            quarantined.append(Quarantined(number, "not valid UTF-8", raw.decode("utf-8", "replace").strip()))
            continue
        except json.JSONDecodeError as error:
            quarantined.append(Quarantined(number, f"bad JSON: {error.msg} at column {error.colno}", text))
            continue
        except RecursionError:
            quarantined.append(Quarantined(number, "bad JSON: nested too deeply to read", text[:10_000]))
            continue
        except BadValue as error:
            quarantined.append(Quarantined(number, str(error), text))
            continue
        for column, value in zip(columns, row, strict=True):
            values[column.name].append(value)
        values["_line"].append(number)
        values["payload"].append(text)
    return _checked_batch(source, pa.table(values, schema=schema), quarantined, allowed)


def _checked_batch(source: Source, table: pa.Table, quarantined: list[Quarantined], allowed: ValueSets) -> Batch:
    """A batch of typed JSON rows, less those whose values are not allowed (moved to quarantine, in line order)."""
    latest_moment = latest()
    reasons: dict[int, list[str]] = {}
    for column in source.columns:
        problems = value_problems(column, table[column.name], allowed.get(column.name), latest_moment)
        for index, reason in problems.items():
            reasons.setdefault(index, []).append(reason)
    if not reasons:
        return Batch(table, quarantined)
    lines, payloads = table["_line"], table["payload"]
    moved = [Quarantined(lines[i].as_py(), "; ".join(why), payloads[i].as_py()) for i, why in reasons.items()]
    keep = pa.array([index not in reasons for index in range(table.num_rows)])
    return Batch(table.filter(keep), sorted(quarantined + moved, key=lambda q: q.line))


def _lines(stream, display_name: str) -> Iterator[bytes]:
    """The lines of a (decompressed) stream; a compressed file cut short is refused, loading none of it."""
    try:
        yield from io.BufferedReader(stream)
    except OSError as error:
        raise _undecompressable(display_name, error) from None


def _undecompressable(display_name: str, error: OSError) -> LandingFileError:
    """A compressed file cut short or corrupt: refused, loading none of it."""
    return LandingFileError(f"{display_name}: cannot be decompressed ({error})")


def read_parquet(file: LandingFile, source: Source, batch_rows: int, allowed: ValueSets) -> Iterator[Batch]:
    display_name = file.name
    try:
        parquet = pq.ParquetFile(file.path)
    except (pa.ArrowInvalid, OSError) as error:
        raise LandingFileError(f"{display_name}: not a readable Parquet file ({_one_line(error)})") from None
    _check_columns(display_name, source, parquet.schema_arrow.names)
    first_row = 1
    batches = parquet.iter_batches(batch_size=batch_rows, columns=source.column_names)
    while True:
        try:
            record_batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as error:  # a corrupt page: the file is refused whole, nothing of it
            raise LandingFileError(f"{display_name}: unreadable from row {first_row} ({_one_line(error)})") from None
        positions = list(range(first_row, first_row + record_batch.num_rows))
        first_row += record_batch.num_rows
        columns = {name: record_batch.column(name) for name in source.column_names}
        yield _typed_batch(source, columns, positions, partial(_parquet_text, record_batch), allowed)


def _parquet_text(record_batch: pa.RecordBatch, index: int) -> str:
    return json.dumps(record_batch.slice(index, 1).to_pylist()[0], default=str, ensure_ascii=False)
