"""Loading landing files into schema `raw` of the DuckDB warehouse, each file exactly once.

The manifest `raw._loads` records every file loaded (by its path under the landing folder, with its SHA-256):
a file seen before is skipped, and the same name with different content is refused, loading nothing of it.
A file loads together with its manifest row and its quarantined rows, in one transaction with the source's
other new files (up to GROUP_BYTES of them), so a crash or an error leaves either the whole file or none of it.
For every file, `rows` + `quarantined` = the rows it holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from tessera.warehouse import table_exists

from ..sources import SOURCES, FileFormat, Source
from .landing import LandingFile, source_files
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
    left_alone: list[str] = field(default_factory=list)  # files in the folder not loaded, each with why

    @property
    def rows(self) -> int:
        return sum(load.rows for load in self.loaded)

    @property
    def quarantined(self) -> int:
        return sum(load.quarantined for load in self.loaded)


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


# A source's new files load in one transaction up to this many bytes (on disk) of them: a transaction's rows are
# written to the warehouse file once, compressed, when they fill DuckDB's row groups, where a small file's own
# transaction goes through the write-ahead log and is written again at the next checkpoint.
GROUP_BYTES = 64 << 20


class _FileFailed(Exception):
    """A file that cannot be loaded (`error`), and whether the transaction already holds rows of it."""

    def __init__(self, error: LandingFileError, wrote: bool):
        super().__init__(str(error))
        self.error, self.wrote = error, wrote


def _load_file(
    con: duckdb.DuckDBPyConnection, source: Source, file: LandingFile, value_sets: ValueSets | None
) -> FileLoad:
    """Loads one file, with its manifest row and its quarantined rows, in the open transaction; raises
    `_FileFailed` if it cannot (a changed file, a header off contract, a compressed file cut short)."""
    name = file.name
    digest = file_sha256(file.path)
    seen = con.execute("select sha256 from raw._loads where file = ?", [name]).fetchone()
    if seen is not None:
        if seen[0] == digest:
            return FileLoad(name, skipped=True)
        refused = LandingFileError(
            f"{name}: was loaded before with different content (sha256 {seen[0][:12]}…, now {digest[:12]}…). "
            "A delivered file must not change: deliver new data under a new file name, or restore the original."
        )
        raise _FileFailed(refused, wrote=False)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    rows = quarantined = 0
    try:
        for batch in read(file, source, value_sets=value_sets):
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
    except LandingFileError as error:
        raise _FileFailed(error, wrote=bool(rows or quarantined)) from None
    con.execute(
        "insert into raw._loads values (?, ?, ?, ?, ?, ?)", [name, source.name, digest, rows, quarantined, loaded_at]
    )
    return FileLoad(name, skipped=False, rows=rows, quarantined=quarantined)


def _load_group(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    files: list[LandingFile],
    value_sets: ValueSets | None,
    report: SourceLoad,
) -> None:
    """Loads `files` in one transaction, each exactly once. A file that cannot be loaded is reported and loads
    nothing: refused before any of its rows were written, the others go on in the same transaction; refused
    after (a compressed file cut short), the transaction is rolled back and the others are loaded again without
    it. Any other error rolls back the whole group and is raised: nothing of it is loaded, and the next run
    loads it all."""
    while files:
        loads: list[FileLoad] = []
        refused: list[str] = []
        cut: tuple[LandingFile, str] | None = None  # the file whose rows the transaction must not keep
        con.begin()
        try:
            for file in files:
                try:
                    loads.append(_load_file(con, source, file, value_sets))
                except _FileFailed as failure:
                    if failure.wrote:
                        cut = (file, str(failure.error))
                        break
                    refused.append(str(failure.error))
            if cut is None:
                con.commit()
            else:
                con.rollback()
        except BaseException:
            con.rollback()
            raise
        if cut is not None:
            report.errors.append(cut[1])
            files = [file for file in files if file is not cut[0]]
            continue
        report.errors.extend(refused)
        report.skipped.extend(load.file for load in loads if load.skipped)
        report.loaded.extend(load for load in loads if not load.skipped)
        return


def load_source(
    con: duckdb.DuckDBPyConnection, landing: Path, source: Source, value_sets: ValueSets | None = None
) -> SourceLoad:
    """Loads every new file of one source's folder and its sub-folders, in name order, each exactly once, in
    transactions of up to GROUP_BYTES of files (`_load_group`). A file that cannot be loaded is reported and
    loads nothing; the others load all the same. Files left alone (`landing.py`: hidden, another format) are
    reported, and links outside the landing folder refused. A row whose value is outside its column's set
    (`value_sets`, default the contract's) is quarantined like a row that does not parse."""
    found = source_files(landing, source)
    report = SourceLoad(source.name, errors=list(found.refused), left_alone=list(found.left_alone))
    group: list[LandingFile] = []
    size = 0
    for file in found.files:
        group.append(file)
        size += file.path.stat().st_size
        if size >= GROUP_BYTES:
            _load_group(con, source, group, value_sets, report)
            group, size = [], 0
    _load_group(con, source, group, value_sets, report)
    return report


RETRACTIONS_DDL = """
create table if not exists raw._retractions (
    file varchar not null,
    source varchar not null,
    sha256 varchar not null,
    rows bigint not null,
    quarantined bigint not null,
    loaded_at timestamp not null,
    retracted_at timestamp not null,
    rebuilt_at timestamp  -- when a full rebuild of the models dropped what they had built from it
)"""
# Staging tables that keep rows once staged (incremental), by source: a retraction removes the file's rows there.
STAGED_TABLES = {
    "web_events": "stg_web__events",
    "app_events": "stg_app__events",
    "email_events": "stg_esp__email_events",
    "pos_transactions": "stg_pos__transactions",
    "consent_events": "stg_consent__decisions",
    "erasure_requests": "stg_privacy__erasure_requests",
}


@dataclass(frozen=True)
class LoadedFile:
    file: str
    source: str
    rows: int
    quarantined: int
    loaded_at: datetime
    validation: str  # passed, held back (its validation failed), or not validated yet


def loaded_files(con: duckdb.DuckDBPyConnection, source: str | None = None) -> list[LoadedFile]:
    """Every file in the load manifest (of one source), in name order, with its validation outcome."""
    has_validations = table_exists(con, "raw", "_validations")
    outcome = (
        "(select case when v.passed then 'passed' else 'held back' end from raw._validations v "
        "where v.file = l.file order by v.validated_at desc limit 1)"
        if has_validations
        else "null"
    )
    rows = con.execute(
        f"select l.file, l.source, l.rows, l.quarantined, l.loaded_at, coalesce({outcome}, 'not validated yet') "
        "from raw._loads l where ? is null or l.source = ? order by l.file",
        [source, source],
    ).fetchall()
    return [LoadedFile(*row) for row in rows]


def retract_file(con: duckdb.DuckDBPyConnection, name: str) -> LoadedFile:
    """Removes one loaded file's rows from `raw.<source>`, the quarantine, the manifest and its validations, and
    its rows from the staging tables that keep them; records the retraction in `raw._retractions`, which makes
    the next build rebuild the models from what is left (`dbt build --full-refresh`; customer ids survive it).
    A corrected version can then be delivered under a new name. Raises LandingFileError for an unknown file."""
    [found] = [f for f in loaded_files(con) if f.file == name] or [None]
    if found is None:
        raise LandingFileError(f"{name}: no such loaded file (see `tessera files`)")
    con.execute(RETRACTIONS_DDL)
    sha = con.execute("select sha256 from raw._loads where file = ?", [name]).fetchone()[0]
    con.begin()
    try:
        con.execute(f"delete from {RAW_SCHEMA}.{found.source} where _file = ?", [name])
        con.execute("delete from raw._quarantine where file = ?", [name])
        con.execute("delete from raw._loads where file = ?", [name])
        if table_exists(con, "raw", "_validations"):
            con.execute("delete from raw._validations where file = ?", [name])
        staged = STAGED_TABLES.get(found.source)
        if staged and table_exists(con, "staging", staged):
            con.execute(f"delete from staging.{staged} where _file = ?", [name])
        con.execute(
            "insert into raw._retractions values (?, ?, ?, ?, ?, ?, ?, null)",
            [name, found.source, sha, found.rows, found.quarantined, found.loaded_at,
             datetime.now(UTC).replace(tzinfo=None)],
        )  # fmt: skip
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return found


def retractions_pending_rebuild(con: duckdb.DuckDBPyConnection) -> int:
    if not table_exists(con, "raw", "_retractions"):
        return 0
    return con.execute("select count(*) from raw._retractions where rebuilt_at is null").fetchone()[0]


def mark_retractions_rebuilt(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("update raw._retractions set rebuilt_at = now()::timestamp where rebuilt_at is null")


# Builds ---------------------------------------------------------------------------------------------------------
BUILDS_DDL = """
create table if not exists raw._builds (
    built_at timestamp not null,
    project varchar not null,  -- fingerprint of the dbt project and its settings (orchestration.builds)
    inputs json not null       -- what the build read: a fingerprint per raw table, and of the erasures
)"""
# The `inputs` entry of what no single raw table holds: erasure purges delete from many tables at once.
ERASURES_INPUT = "_erasures"
# The `inputs` entry of the sync engine's tables that exist: models read them, when there, through views.
SYNC_TABLES_INPUT = "_reverse_etl_tables"


def input_fingerprints(con: duckdb.DuckDBPyConnection, sources: Iterable[Source] = SOURCES) -> dict[str, str]:
    """What each raw table holds now, as a string that changes with every way Tessera changes it: rows loaded
    (their count and newest `_loaded_at`), and its files' validations (a file held back, or let through); under
    ERASURES_INPUT, the erasure purges and tombstones; under SYNC_TABLES_INPUT, which of the sync engine's tables
    exist (a view over one reads an empty stand-in until it does). (A retracted file forces a full rebuild.)"""
    fingerprints = {}
    validations = {}
    if table_exists(con, "raw", "_validations"):
        validations = {
            source: f"{count}/{passed}/{newest}"
            for source, count, passed, newest in con.execute(
                "select l.source, count(*), count(*) filter (v.passed), max(v.validated_at) "
                "from raw._validations v join raw._loads l using (file) group by l.source"
            ).fetchall()
        }
    for source in sources:
        if table_exists(con, RAW_SCHEMA, source.name):
            rows, newest = con.execute(f"select count(*), max(_loaded_at) from {RAW_SCHEMA}.{source.name}").fetchone()
            fingerprints[source.name] = f"{rows}/{newest}/{validations.get(source.name, '')}"
    erasures = [
        con.execute(f"select count(*), max({stamp}) from raw.{table}").fetchone()
        if table_exists(con, "raw", table)
        else (0, None)  # as good as empty: created empty by the first purge
        for table, stamp in (("_erasure_purges", "purged_at"), ("_erasures", "erased_at"))
    ]
    fingerprints[ERASURES_INPUT] = "/".join(f"{count}/{newest}" for count, newest in erasures)
    sync_tables = con.execute(
        "select string_agg(table_name, ',' order by table_name) from information_schema.tables "
        "where table_schema = 'reverse_etl'"
    ).fetchone()[0]
    fingerprints[SYNC_TABLES_INPUT] = sync_tables or ""
    return fingerprints


def last_build(con: duckdb.DuckDBPyConnection) -> tuple[str, dict[str, str]] | None:
    """The project and input fingerprints of the newest build that succeeded, or None before the first."""
    if not table_exists(con, "raw", "_builds"):
        return None
    row = con.execute("select project, inputs from raw._builds order by built_at desc limit 1").fetchone()
    return (row[0], json.loads(row[1])) if row else None


def record_build(con: duckdb.DuckDBPyConnection, project: str, inputs: dict[str, str]) -> None:
    """Records a build that succeeded, with the fingerprints taken before it started."""
    con.execute(BUILDS_DDL)
    con.execute(
        "insert into raw._builds values (?, ?, ?)",
        [datetime.now(UTC).replace(tzinfo=None), project, json.dumps(inputs, sort_keys=True)],
    )
