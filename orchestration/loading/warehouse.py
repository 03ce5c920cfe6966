"""Loading landing files into schema `raw` of the DuckDB warehouse, each file exactly once.

The manifest `raw._loads` records every file loaded (by its path under the landing folder, with its SHA-256):
a file seen before is skipped, and the same name with different content is refused, loading nothing of it.
Each file loads in one transaction together with its manifest row and its quarantined rows, so a crash or an
error leaves either the whole file or none of it. For every file, `rows` + `quarantined` = the rows it holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from ..sources import SOURCES, TRUTH_FOLDER, FileFormat, Source
from .readers import LandingFileError, ValueSets, raw_schema, read

RAW_SCHEMA = "raw"
MANIFEST_DDL = """
create table if not exists raw._loads (
    file varchar primary key,   -- the path under the landing folder, e.g. crm_contacts/crm_contacts_2026-10-01.csv
    source varchar not null,
    sha256 varchar not null,
    rows bigint not null,        -- rows loaded into raw.<source>
    quarantined bigint not null, -- rows sent to raw._quarantine
    loaded_at timestamp not null
)"""
QUARANTINE_DDL = """
create table if not exists raw._quarantine (
    file varchar not null,
    source varchar not null,
    line bigint not null,
    reason varchar not null,
    content varchar,
    quarantined_at timestamp not null
)"""


@dataclass(frozen=True)
class FileLoad:
    file: str
    skipped: bool
    rows: int = 0
    quarantined: int = 0


@dataclass
class SourceLoad:
    """What loading one source's folder did: the asset's metadata and the run summary read it."""

    source: str
    loaded: list[FileLoad] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(load.rows for load in self.loaded)

    @property
    def quarantined(self) -> int:
        return sum(load.quarantined for load in self.loaded)


LOADER_MEMORY_LIMIT = "512MB"


def connect(warehouse: Path, memory_limit: str = LOADER_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """A connection for loading. DuckDB caches as much of the database as it may; its memory limit is what
    keeps a loader's memory bounded however much data has been loaded."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    con.execute("set memory_limit = ?", [memory_limit])
    return con


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, sources: Iterable[Source] = SOURCES) -> None:
    """Creates schema `raw`, the manifest, the quarantine, and a table per source (empty until files arrive),
    adding any column the contract has gained since the table was created."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(MANIFEST_DDL)
    con.execute(QUARANTINE_DDL)
    for source in sources:
        con.register("empty", raw_schema(source).empty_table())
        json_payload = " replace (payload::json as payload)" if source.format is FileFormat.JSONL else ""
        layout = f"select *{json_payload}, null::varchar as _file, null::timestamp as _loaded_at from empty"
        con.execute(f"create table if not exists {RAW_SCHEMA}.{source.name} as {layout} with no data")
        existing = {row[0] for row in con.execute(f"describe {RAW_SCHEMA}.{source.name}").fetchall()}
        for name, sql_type, *_ in con.execute(f"describe {layout}").fetchall():
            if name not in existing:
                con.execute(f'alter table {RAW_SCHEMA}.{source.name} add column "{name}" {sql_type}')
        con.unregister("empty")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_file(
    con: duckdb.DuckDBPyConnection, landing: Path, source: Source, path: Path, value_sets: ValueSets | None = None
) -> FileLoad:
    """Loads one file exactly once; raises `LandingFileError` (loading nothing of it) if it cannot. A row whose
    value is outside its column's set (`value_sets`, default the contract's) is quarantined like a row that does
    not parse."""
    name = path.relative_to(landing).as_posix()
    digest = file_sha256(path)
    seen = con.execute("select sha256 from raw._loads where file = ?", [name]).fetchone()
    if seen is not None:
        if seen[0] == digest:
            return FileLoad(name, skipped=True)
        raise LandingFileError(
            f"{name}: was loaded before with different content (sha256 {seen[0][:12]}…, now {digest[:12]}…). "
            "A delivered file must not change: deliver new data under a new file name, or restore the original."
        )
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    rows = quarantined = 0
    con.begin()
    try:
        for batch in read(path, source, name, value_sets=value_sets):
            if batch.rows:
                con.register("batch", batch.table)
                con.execute(
                    f"insert into {RAW_SCHEMA}.{source.name} by name "
                    "select *, ?::varchar as _file, ?::timestamp as _loaded_at from batch",
                    [name, loaded_at],
                )
                con.unregister("batch")
            if batch.quarantined:
                bad = pa.table(
                    {
                        "line": [q.line for q in batch.quarantined],
                        "reason": [q.reason for q in batch.quarantined],
                        "content": [q.content for q in batch.quarantined],
                    }
                )
                con.register("bad", bad)
                con.execute(
                    "insert into raw._quarantine by name select ? as file, ? as source, line, reason, content, "
                    "?::timestamp as quarantined_at from bad",
                    [name, source.name, loaded_at],
                )
                con.unregister("bad")
            rows += batch.rows
            quarantined += len(batch.quarantined)
        con.execute(
            "insert into raw._loads values (?, ?, ?, ?, ?, ?)",
            [name, source.name, digest, rows, quarantined, loaded_at],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return FileLoad(name, skipped=False, rows=rows, quarantined=quarantined)


def landing_files(landing: Path, source: Source) -> list[Path]:
    """The files of one source's landing folder, in name order (hidden ones left out)."""
    folder = landing / source.name
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.iterdir()) if path.is_file() and not path.name.startswith(".")]


def load_source(
    con: duckdb.DuckDBPyConnection, landing: Path, source: Source, value_sets: ValueSets | None = None
) -> SourceLoad:
    """Loads every new file of one source's folder, in name order. A file that cannot be loaded is reported
    and loads nothing; the others load all the same."""
    report = SourceLoad(source.name)
    for path in landing_files(landing, source):
        if path.suffix != f".{source.extension}":
            report.ignored.append(f"{source.name}/{path.name} (not .{source.extension})")
            continue
        try:
            load = load_file(con, landing, source, path, value_sets)
        except LandingFileError as error:
            report.errors.append(str(error))
            continue
        if load.skipped:
            report.skipped.append(load.file)
        else:
            report.loaded.append(load)
    return report


def unknown_folders(landing: Path) -> list[str]:
    """Folders in the landing folder that no source owns: reported, never read."""
    if not landing.is_dir():
        return []
    known = {source.name for source in SOURCES} | {TRUTH_FOLDER}
    return sorted(
        p.name for p in landing.iterdir() if p.is_dir() and p.name not in known and not p.name.startswith(".")
    )
