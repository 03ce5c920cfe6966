"""Erasure inside Tessera: an erased person's records leave every table of the warehouse and every landing file.

The marts forget an erased customer on every build (`int_customer_privacy`); this removes what the models built
from. After each build, for every erased customer whose records are still held:

1. a tombstone per identifier in `raw._erasures` (request, customer, identifier type, SHA-256 of the normalised
   value, when): what the audit keeps, and how data that arrives later for the same person is recognised and
   hidden (`int_customer_privacy`) without keeping the value itself;
2. their rows deleted from `raw.<source>` by record id, and from every table built from them: incremental
   staging tables by their key, any table by (source, source_record_id), by customer, or by identifier value.
   The two tables that must keep a value-keyed history (node numbers and customer ids, so that no number or id
   is ever issued twice) keep their rows with the value replaced by its hash. The erasure request itself stays,
   stripped of its email, phone and user id, so `marts.privacy_requests` still reports it;
3. their lines removed from the landing files that held them, which are rewritten atomically and re-registered
   in `raw._loads` with their new SHA-256 (so they count as loaded, never as changed); each rewrite is recorded
   in `raw._erasure_purges`.

Everything derived that is rebuilt from these tables (views, tables dbt recomputes) is cleaned in the same pass,
so nothing is left until the next build. What leaves Tessera's destinations is the sync engine's job
(`reverse_etl/erasure_deliveries`); the sync state of a held row is deleted when its destination confirms.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tessera.warehouse import table_exists

from .loading.landing import compression_of, open_bytes, write_bytes
from .loading.warehouse import file_sha256
from .sources import SOURCES, FileFormat, Source

TOMBSTONES_DDL = """
create table if not exists raw._erasures (
    request_id varchar not null,
    customer_id varchar not null,
    identifier_type varchar not null,
    identifier_hash varchar not null,  -- sha256 of the normalised value, as int_identifiers_extracted holds it
    erased_at timestamp not null,
    primary key (identifier_type, identifier_hash)
);
create table if not exists raw._erasure_purges (
    purged_at timestamp not null,
    target varchar not null,  -- a table (schema.table) or a landing file (its path under the landing folder)
    rows_removed bigint not null,  -- or rows stripped of their identifiers
    customers integer not null  -- erased customers that purge removed
);
"""
# Staging tables (all are tables): which source's records they stage, under which key.
STAGED_KEYS = {
    "stg_web__events": ("web_events", "message_id"),
    "stg_app__events": ("app_events", "message_id"),
    "stg_esp__email_events": ("email_events", "email_event_id"),
    "stg_pos__transactions": ("pos_transactions", "transaction_id"),
    "stg_consent__decisions": ("consent_events", "consent_decision_id"),
    "stg_crm__contacts": ("crm_contacts", "contact_id"),
    "stg_loyalty__members": ("loyalty_members", "card_number"),
    "stg_shop__orders": ("orders", "order_id"),
    "stg_helpdesk__tickets": ("support_tickets", "ticket_id"),
}
# Tables keyed by identifier value that must keep their rows (numbers and ids are never issued twice).
VALUE_HISTORIES = ("intermediate.int_identity_node_ids", "intermediate.int_customer_ids_assigned")
REQUEST_PII = ("email", "phone", "user_id")
STAGED_REQUEST_PII = ("email", "email_as_typed", "phone", "phone_as_typed", "phone_digits", "user_id")
REDACTED = "'erased:' || sha256({column})"
ERASED_VALUES = "select identifier_type, identifier_value from erased_identifiers"


@dataclass
class PurgeReport:
    customers: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table or landing file -> rows removed

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def purge_erased(con: duckdb.DuckDBPyConnection, landing: Path | None) -> PurgeReport:
    """Removes the records of every erased customer still held, from the warehouse (one transaction) and then
    from the landing files; what it did, by table and file."""
    report = PurgeReport()
    if not table_exists(con, "intermediate", "int_customer_privacy"):
        return report  # nothing built yet
    con.execute(TOMBSTONES_DDL)
    con.execute("begin transaction")
    try:
        held = _held_records(con)
        if held:
            report.customers = _tombstone(con)
            _held_files(con)
            _purge_tables(con, report)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    if held and landing is not None:
        _purge_landing(con, landing, report)
    _record(con, report)
    return report


def _held_records(con: duckdb.DuckDBPyConnection) -> int:
    """Stages, as temp tables, the erased customers' records and identifiers still in the warehouse."""
    con.execute(
        """
        create or replace temp table erased_customers as
        select privacy.customer_id, coalesce(requests.request_id, recognised.request_id, 'unknown') as request_id
        from intermediate.int_customer_privacy as privacy
        left join (
            select customer_id, arg_min(erasure_request_id, requested_at) as request_id
            from intermediate.int_privacy_requests_matched where request_type = 'erase' group by 1
        ) as requests using (customer_id)
        left join (  -- a person back after their records were removed: the request their tombstones name
            select ids.customer_id, min(tombstones.request_id) as request_id
            from intermediate.int_customer_ids_assigned as ids
            inner join raw._erasures as tombstones
                on tombstones.identifier_type = ids.identifier_type
                and tombstones.identifier_hash = sha256(ids.identifier_value)
            group by 1
        ) as recognised using (customer_id)
        where privacy.is_erased
        """
    )
    con.execute(
        """
        create or replace temp table erased_records as
        select records.source, records.source_record_id, records.customer_id
        from intermediate.int_source_records_assigned as records
        inner join erased_customers using (customer_id)
        """
    )
    con.execute(
        """
        create or replace temp table erased_identifiers as
        select distinct identifiers.identifier_type, identifiers.identifier_value, records.customer_id
        from intermediate.int_identifiers_extracted as identifiers
        inner join erased_records as records using (source, source_record_id)
        """
    )
    return con.execute("select count(*) from erased_records").fetchone()[0]


def _tombstone(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(
        """
        insert into raw._erasures
        select customers.request_id, identifiers.customer_id, identifiers.identifier_type,
               sha256(identifiers.identifier_value), now()::timestamp
        from erased_identifiers as identifiers
        inner join erased_customers as customers using (customer_id)
        on conflict do nothing
        """
    )
    return con.execute("select count(distinct customer_id) from erased_records").fetchone()[0]


def _purge_tables(con: duckdb.DuckDBPyConnection, report: PurgeReport) -> None:
    for source in SOURCES:
        table = f"raw.{source.name}"
        if not table_exists(con, "raw", source.name):
            continue
        where = f"trim({source.record_id}) in {_ids(source.name)}"
        if source.name == "erasure_requests":
            _redact(con, table, REQUEST_PII, where, report)
        else:
            _delete(con, table, where, report)
    for table, (source, key) in STAGED_KEYS.items():
        if table_exists(con, "staging", table):
            _delete(con, f"staging.{table}", f"{key} in {_ids(source)}", report)
    if table_exists(con, "raw", "_quarantine"):
        _delete(con, "raw._quarantine", QUARANTINED_ERASED, report)
    if table_exists(con, "staging", "stg_privacy__erasure_requests"):
        where = f"erasure_request_id in {_ids('erasure_requests')}"
        _redact(con, "staging.stg_privacy__erasure_requests", STAGED_REQUEST_PII, where, report)
    for schema, table, columns in _tables(con):
        name = f"{schema}.{table}"
        if name in VALUE_HISTORIES:
            continue
        if {"source", "source_record_id"} <= columns:
            _delete(con, name, "(source, source_record_id) in (select source, source_record_id from erased_records)",
                    report)  # fmt: skip
        if {"identifier_type", "identifier_value"} <= columns:
            _delete(con, name, f"(identifier_type, identifier_value) in ({ERASED_VALUES})", report)
        if "customer_id" in columns and columns & {"attribute_value", "identifier_value"}:
            _delete(con, name, "customer_id in (select customer_id from erased_customers)", report)
    for name in VALUE_HISTORIES:
        schema, table = name.split(".")
        if table_exists(con, schema, table):
            where = f"(identifier_type, identifier_value) in ({ERASED_VALUES})"
            changed = con.execute(
                f"update {name} set identifier_value = {REDACTED.format(column='identifier_value')} where {where}"
            ).fetchone()[0]
            if changed:
                report.rows[name] = report.rows.get(name, 0) + changed


def _ids(source: str) -> str:
    return f"(select source_record_id from erased_records where source = '{source}')"


def _delete(con: duckdb.DuckDBPyConnection, table: str, where: str, report: PurgeReport) -> None:
    removed = con.execute(f"delete from {table} where {where}").fetchone()[0]
    if removed:
        report.rows[table] = report.rows.get(table, 0) + removed


def _redact(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], where: str, report) -> None:
    present = {row[0] for row in con.execute(f"describe {table}").fetchall()}
    held = [column for column in columns if column in present]
    condition = " or ".join(f"{column} is not null" for column in held)
    assignments = ", ".join(f"{column} = null" for column in held)
    changed = con.execute(f"update {table} set {assignments} where ({where}) and ({condition})").fetchone()[0]
    if changed:
        report.rows[table] = report.rows.get(table, 0) + changed


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, set[str]]]:
    """Every base table dbt builds (staging, intermediate, marts) with its columns."""
    rows = con.execute(
        "select c.table_schema, c.table_name, list(c.column_name) from information_schema.columns c "
        "join information_schema.tables t using (table_schema, table_name) "
        "where t.table_type = 'BASE TABLE' and c.table_schema in ('staging', 'intermediate', 'marts') "
        "group by 1, 2 order by 1, 2"
    ).fetchall()
    return [(schema, table, set(columns)) for schema, table, columns in rows]


# Landing files --------------------------------------------------------------------------------------------------
# A quarantined row holding an erased person's identifier (raw text, so compared without case).
QUARANTINED_ERASED = (
    "exists (select 1 from erased_identifiers as erased where contains(lower(content), lower(erased.identifier_value)))"
)


def _held_files(con: duckdb.DuckDBPyConnection) -> None:
    """Which landing file holds which erased record, read from the raw rows' lineage before they go; the
    quarantined JSON lines that hold an erased person's identifier, by the record id they carry; and the
    quarantined CSV rows that hold one, by their content (a broken row's id cannot be trusted)."""
    selects = [
        f"select '{source.name}' as source, _file as file, trim({source.record_id}) as record_id, "
        f"null::varchar as content from raw.{source.name} where trim({source.record_id}) in {_ids(source.name)}"
        for source in SOURCES
        if table_exists(con, "raw", source.name)
    ]
    if table_exists(con, "raw", "_quarantine"):
        for source in SOURCES:
            if source.format is FileFormat.JSONL:
                path = next(c.path or c.name for c in source.columns if c.name == source.record_id)
                selects.append(
                    f"select source, file, trim(json_extract_string(content, '$.{path}')), null from raw._quarantine "
                    f"where source = '{source.name}' and json_valid(content) and {QUARANTINED_ERASED}"
                )
            elif source.format is FileFormat.CSV:
                selects.append(
                    f"select source, file, null, content from raw._quarantine "
                    f"where source = '{source.name}' and {QUARANTINED_ERASED}"
                )
    con.execute("create or replace temp table erased_files as " + " union all ".join(selects))


def _purge_landing(con: duckdb.DuckDBPyConnection, landing: Path, report: PurgeReport) -> None:
    """Rewrites each landing file that held an erased record without it (an erasure request's file keeps the
    request, without its identifiers), and re-registers the file's new hash in the load manifest."""
    by_source = {source.name: source for source in SOURCES}
    held = con.execute(
        "select source, file, coalesce(list(distinct record_id) filter (record_id is not null), []), "
        "coalesce(list(distinct content) filter (content is not null), []) from erased_files group by 1, 2"
    ).fetchall()
    for source_name, name, ids, contents in held:
        path = landing / name
        if not path.is_file():
            continue  # delivered and since removed by whoever owns the folder
        rows = {fields for fields in map(_csv_fields, contents) if fields}
        removed = _rewrite_without(path, by_source[source_name], {str(value).strip() for value in ids}, rows)
        if removed:
            con.execute("update raw._loads set sha256 = ? where file = ?", [file_sha256(path), name])
            report.rows[name] = removed


def _rewrite_without(path: Path, source: Source, ids: set[str], rows: set[tuple[str, ...]] = frozenset()) -> int:
    """Writes `path` again without the records whose id is in `ids`, nor (CSV) the rows whose fields are one of
    `rows` (beside it, then renamed, compressed as it came); rows removed."""
    partial = path.with_name(f".{path.name}.purging")
    codec = compression_of(path.name)
    if source.format is FileFormat.PARQUET:
        table = pq.read_table(path)
        keep = [str(value) not in ids for value in table.column(source.record_id).to_pylist()]
        removed = keep.count(False)
        if removed:
            pq.write_table(table.filter(keep), partial)
    elif source.format is FileFormat.JSONL:
        removed, lines = 0, []
        path_in_event = next(c.path or c.name for c in source.columns if c.name == source.record_id)
        with open_bytes(path, codec) as stream:
            for raw in io.BufferedReader(stream):
                if _jsonl_id(raw, path_in_event) in ids:
                    removed += 1
                else:
                    lines.append(raw)
        if removed:
            write_bytes(partial, b"".join(lines), codec)
    else:
        with open_bytes(path, codec) as stream:
            text = stream.read().decode("utf-8", "surrogateescape")
        records = list(csv.reader(io.StringIO(text, newline="")))
        header = records[0] if records else []
        index = header.index(source.record_id) if source.record_id in header else 0
        kept, removed = [header], 0
        for row in records[1:]:
            if _csv_fields_of(row) in rows:
                removed += 1  # a quarantined row of an erased person's
                continue
            if not (len(row) > index and row[index].strip() in ids):
                kept.append(row)
                continue
            removed += 1
            if source.name == "erasure_requests":  # the request stays, naming nobody
                kept.append(["" if name in REQUEST_PII else value for name, value in zip(header, row, strict=False)])
        if removed:
            out = io.StringIO(newline="")
            csv.writer(out, lineterminator="\n").writerows(kept)
            write_bytes(partial, out.getvalue().encode("utf-8", "surrogateescape"), codec)
    if removed:
        os.chmod(partial, path.stat().st_mode)
        os.replace(partial, path)
    return removed


def _csv_fields(content: str) -> tuple[str, ...]:
    """The fields of a quarantined CSV row, as its content holds it (the row's text)."""
    return _csv_fields_of(next(csv.reader(io.StringIO(content, newline="")), []))


def _csv_fields_of(row: list[str]) -> tuple[str, ...]:
    return tuple(field.strip() for field in row)


def _jsonl_id(raw: bytes, path: str) -> str | None:
    try:
        value: object = json.loads(raw)
    except ValueError:
        return None
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else str(value).strip()


def _record(con: duckdb.DuckDBPyConnection, report: PurgeReport) -> None:
    if report.rows:
        now = datetime.now(UTC).replace(tzinfo=None)
        con.executemany(
            "insert into raw._erasure_purges values (?, ?, ?, ?)",
            [(now, target, rows, report.customers) for target, rows in report.rows.items()],
        )
