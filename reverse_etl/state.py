"""What each destination has acknowledged, run by run, kept in the warehouse's schema `reverse_etl`.

- `sync_state`: per sync and record key, the hash and fields last acknowledged by the destination. Change data
  capture compares the model's rows with it. It advances only after a destination acknowledged a batch, so a
  crash at any point re-sends only what was not acknowledged. A removed row's state is deleted once its removal
  is acknowledged: nothing of an erased person stays here.
- `sync_runs`: one row per sync run: planned, sent, accepted, rejected, skipped, duration, status, error.
- `sync_row_results`: one row per row sent (or skipped) per run: operation, status, the destination's error.
  Rejected rows keep no acknowledged state, so every later run sends them again until they succeed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

SCHEMA = "reverse_etl"
DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.sync_state (
    sync_name varchar not null,
    record_key varchar not null,
    fields_hash varchar not null,
    fields_json varchar not null,
    acknowledged_at timestamp not null,
    primary key (sync_name, record_key)
);
create table if not exists {SCHEMA}.sync_runs (
    run_id varchar not null,
    sync_name varchar not null,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,
    full_resync boolean not null,
    planned integer not null,
    sent integer not null,
    accepted integer not null,
    rejected integer not null,
    skipped integer not null,
    duration_seconds double,
    error varchar
);
create table if not exists {SCHEMA}.sync_row_results (
    run_id varchar not null,
    sync_name varchar not null,
    record_key varchar not null,
    operation varchar not null,
    status varchar not null,
    error varchar,
    recorded_at timestamp not null
);
"""


@dataclass(frozen=True)
class Acknowledged:
    fields_hash: str
    fields_json: str


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row of a batch: `accepted`, `rejected` (with the destination's message) or `skipped`."""

    record_key: str
    operation: str
    status: str
    error: str | None = None


def read_acknowledged(con: duckdb.DuckDBPyConnection, sync_name: str) -> dict[str, Acknowledged]:
    """What the destination of `sync_name` acknowledged, by record key; nothing before the first run (the table
    does not exist yet: a dry run reads this without creating anything)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'sync_state'",
        [SCHEMA],
    ).fetchone()[0]
    if not exists:
        return {}
    rows = con.execute(
        f"select record_key, fields_hash, fields_json from {SCHEMA}.sync_state where sync_name = ?", [sync_name]
    ).fetchall()
    return {key: Acknowledged(fields_hash, fields_json) for key, fields_hash, fields_json in rows}


class SyncState:
    """The state tables of one warehouse, shared by the syncs of a run (one writer at a time)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._lock = threading.Lock()
        with self._lock:
            self._con.execute(DDL)

    def acknowledged(self, sync_name: str) -> dict[str, Acknowledged]:
        with self._lock:
            return read_acknowledged(self._con, sync_name)

    def record_batch(
        self,
        run_id: str,
        sync_name: str,
        outcomes: Iterable[RowOutcome],
        now_acknowledged: dict[str, Acknowledged | None],
    ) -> None:
        """In one transaction: the rows' results, and the state of the rows the destination acknowledged
        (None: removed from the destination, so forgotten)."""
        outcomes = list(outcomes)
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._lock:
            cursor = self._con.cursor()
            cursor.execute("begin transaction")
            try:
                keys = list(now_acknowledged)
                if keys:
                    cursor.execute(
                        f"delete from {SCHEMA}.sync_state where sync_name = ? and record_key in "
                        "(select unnest(?::varchar[]))",
                        [sync_name, keys],
                    )
                kept = {key: ack for key, ack in now_acknowledged.items() if ack}
                if kept:
                    cursor.register("acknowledged_rows", pa.table({
                        "sync_name": [sync_name] * len(kept),
                        "record_key": list(kept),
                        "fields_hash": [ack.fields_hash for ack in kept.values()],
                        "fields_json": [ack.fields_json for ack in kept.values()],
                        "acknowledged_at": pa.array([now] * len(kept), pa.timestamp("us")),
                    }))  # fmt: skip
                    cursor.execute(f"insert into {SCHEMA}.sync_state select * from acknowledged_rows")
                if outcomes:
                    cursor.register("outcome_rows", pa.table({
                        "run_id": [run_id] * len(outcomes),
                        "sync_name": [sync_name] * len(outcomes),
                        "record_key": [o.record_key for o in outcomes],
                        "operation": [o.operation for o in outcomes],
                        "status": [o.status for o in outcomes],
                        "error": pa.array([o.error for o in outcomes], pa.string()),
                        "recorded_at": pa.array([now] * len(outcomes), pa.timestamp("us")),
                    }))  # fmt: skip
                    cursor.execute(f"insert into {SCHEMA}.sync_row_results select * from outcome_rows")
                cursor.execute("commit")
            except BaseException:
                cursor.execute("rollback")
                raise
            finally:
                cursor.close()

    def record_run(self, row: dict[str, object]) -> None:
        columns = ", ".join(row)
        with self._lock:
            self._con.execute(
                f"insert into {SCHEMA}.sync_runs ({columns}) values ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
