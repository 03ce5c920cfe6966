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
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..sources import VALUE_SETS, Column, FileFormat, Source
from .convert import BadValue, arrow_type, convert_array, convert_value, latest, value_problems
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
    source: Source, columns: dict[str, pa.Array], positions: list[int], row_text, allowed: ValueSets
) -> Batch:
    """Converts raw columns to their types; rows with a bad value go to quarantine, the others stay."""
    reasons: dict[int, list[str]] = {}
    typed = {}
    latest_moment = latest()
    for column in source.columns:
        typed[column.name], bad = convert_array(column, columns[column.name])
        bad.update(value_problems(column, typed[column.name], allowed.get(column.name), latest_moment))
        for index, reason in bad.items():
            reasons.setdefault(index, []).append(reason)
    typed[position_column(source)] = pa.array(positions, pa.int64())
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


def read_jsonl(file: LandingFile, source: Source, batch_rows: int, allowed: ValueSets) -> Iterator[Batch]:
    """One JSON object a line; the whole original object is kept as `payload`, the contract fields typed."""
    columns: list[Column] = list(source.columns)
    schema = raw_schema(source)
    values: dict[str, list] = {name: [] for name in schema.names}
    quarantined: list[Quarantined] = []
    with open_bytes(file) as stream:
        for number, raw in enumerate(_lines(stream, file.name), start=1):
            if not raw.strip():
                continue  # a blank line is no row
            if number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]  # a byte-order mark some exporters write first: not part of the line
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
            if len(values["_line"]) >= batch_rows:
                yield _checked_batch(source, pa.table(values, schema=schema), quarantined, allowed)
                values, quarantined = {name: [] for name in schema.names}, []
    if values["_line"] or quarantined:
        yield _checked_batch(source, pa.table(values, schema=schema), quarantined, allowed)


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
        raise LandingFileError(f"{display_name}: cannot be decompressed ({error})") from None


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
