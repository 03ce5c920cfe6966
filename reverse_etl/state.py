"""What each destination has acknowledged, run by run, kept in the warehouse's schema `reverse_etl`.

- `sync_state`: per sync and record key, the hash and fields last acknowledged by the destination. Change data
  capture compares the model's rows with it. It advances only after a destination acknowledged a batch, so a
  crash at any point re-sends only what was not acknowledged. A removed row's state is deleted once its removal
  is acknowledged: nothing of an erased person stays here.
- `sync_runs`: one row per sync run: planned, sent, accepted, rejected, skipped, duration, status, error;
  written as `started` before anything is sent (a run whose process died stays `started` until the next run
  of that sync marks it `interrupted`).
- `sync_row_results`: one row per row sent (or skipped) per run: operation, status, the destination's error.
  Rejected rows keep no acknowledged state, so every later run sends them again until they succeed.
- `sync_not_sendable`: rows the destination can never take as they are (no email for an email tool), recorded
  once with the hash of their fields; not planned again until the row changes.
- `erasure_deliveries`: per erasure request and sync that held the person, whether the destination confirmed
  the erasure (`pending` until it did, `delivered` after), the attempts, the last error. A held row's state
  (the identifiers the vendor deletes by) is kept until its erasure is delivered, then deleted in the same
  transaction; what stays is what the audit needs: the request, a hash of the record key, the sync, the times.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from tessera.warehouse import table_exists

SCHEMA = "reverse_etl"
DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.sync_state (
    sync_name varchar not null,
    record_key varchar not null,
    fields_hash varchar not null,
    fields_json varchar not null,
    acknowledged_at timestamp not null,
    customer_id varchar,
    primary key (sync_name, record_key)
);
alter table {SCHEMA}.sync_state add column if not exists customer_id varchar;
create table if not exists {SCHEMA}.sync_not_sendable (
    sync_name varchar not null,
    record_key varchar not null,
    fields_hash varchar not null,  -- the row as it was when found unsendable: a change makes it worth a try
    reason varchar not null,
    recorded_at timestamp not null,
    primary key (sync_name, record_key)
);
create table if not exists {SCHEMA}.erasure_deliveries (
    request_id varchar not null,
    requested_at timestamp,
    customer_id varchar not null,
    sync_name varchar not null,
    destination_type varchar not null,
    record_key_hash varchar not null,
    status varchar not null,
    attempts integer not null,
    first_planned_at timestamp not null,
    last_attempt_at timestamp,
    delivered_at timestamp,
    error varchar,
    primary key (request_id, sync_name, record_key_hash)
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
    customer_id: str | None = None  # whose row it is: an erasure of that customer deletes it at the destination


@dataclass(frozen=True)
class Erasure:
    """An erasure request that names a customer (marts.privacy_requests)."""

    request_id: str
    customer_id: str
    requested_at: datetime | None


@dataclass(frozen=True)
class ErasureAttempt:
    """What became of one held row's erasure at one destination."""

    erasure: Erasure
    record_key: str
    delivered: bool
    error: str | None = None


def key_hash(record_key: str) -> str:
    """What the audit keeps of a record key once its erasure is delivered."""
    return hashlib.sha256(record_key.encode()).hexdigest()


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
    if not table_exists(con, SCHEMA, "sync_state"):
        return {}
    has_customer = con.execute(
        "select count(*) from information_schema.columns where table_schema = ? and table_name = 'sync_state' "
        "and column_name = 'customer_id'",
        [SCHEMA],
    ).fetchone()[0]
    customer = "customer_id" if has_customer else "null"
    rows = con.execute(
        f"select record_key, fields_hash, fields_json, {customer} from {SCHEMA}.sync_state where sync_name = ?",
        [sync_name],
    ).fetchall()
    return {key: Acknowledged(fields_hash, fields_json, customer) for key, fields_hash, fields_json, customer in rows}


def ensure_state_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Creates schema `reverse_etl` and its tables where they are missing (the marts read some of them)."""
    con.execute(DDL)


class SyncState:
    """The state tables of one warehouse, shared by the syncs of a run (one writer at a time)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._lock = threading.Lock()
        with self._lock:
            ensure_state_tables(self._con)

    def acknowledged(self, sync_name: str) -> dict[str, Acknowledged]:
        with self._lock:
            return read_acknowledged(self._con, sync_name)

    def record_batch(
        self,
        run_id: str,
        sync_name: str,
        outcomes: Iterable[RowOutcome],
        now_acknowledged: dict[str, Acknowledged | None],
        erasures: Iterable[ErasureAttempt] = (),
        not_sendable: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        """In one transaction: the rows' results, the state of the rows the destination acknowledged (None:
        removed from the destination, so forgotten), and what became of the erasures attempted."""
        outcomes, erasures = list(outcomes), list(erasures)
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._lock:
            cursor = self._con.cursor()
            cursor.execute("begin transaction")
            try:
                _write_state(cursor, sync_name, now_acknowledged, now)
                if now_acknowledged:  # sent at last: no longer recorded as not sendable
                    cursor.execute(
                        f"delete from {SCHEMA}.sync_not_sendable where sync_name = ? and record_key in "
                        "(select unnest(?::varchar[]))",
                        [sync_name, list(now_acknowledged)],
                    )
                if not_sendable:
                    cursor.executemany(
                        f"insert or replace into {SCHEMA}.sync_not_sendable values (?, ?, ?, ?, ?)",
                        [(sync_name, key, digest, reason, now) for key, (digest, reason) in not_sendable.items()],
                    )
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
                for attempt in erasures:
                    cursor.execute(
                        f"update {SCHEMA}.erasure_deliveries set attempts = attempts + 1, last_attempt_at = ?, "
                        "status = ?, delivered_at = ?, error = ? "
                        "where request_id = ? and sync_name = ? and record_key_hash = ?",
                        [now, "delivered" if attempt.delivered else "pending", now if attempt.delivered else None,
                         attempt.error, attempt.erasure.request_id, sync_name, key_hash(attempt.record_key)],
                    )  # fmt: skip
                cursor.execute("commit")
            except BaseException:
                cursor.execute("rollback")
                raise
            finally:
                cursor.close()

    def not_sendable(self, sync_name: str) -> dict[str, str]:
        """Rows recorded as not sendable, by record key: the hash of their fields then."""
        with self._lock:
            rows = self._con.execute(
                f"select record_key, fields_hash from {SCHEMA}.sync_not_sendable where sync_name = ?", [sync_name]
            ).fetchall()
        return dict(rows)

    def plan_erasures(self, sync_name: str, destination_type: str, held: dict[str, Erasure]) -> None:
        """Records, once, that each held row (record key -> the erasure naming its customer) is to be erased at
        the sync's destination: `pending` until the destination confirms it, whatever stops the sync before."""
        if not held:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._lock:
            self._con.executemany(
                f"insert into {SCHEMA}.erasure_deliveries (request_id, requested_at, customer_id, sync_name, "
                "destination_type, record_key_hash, status, attempts, first_planned_at) "
                "values (?, ?, ?, ?, ?, ?, 'pending', 0, ?) on conflict do nothing",
                [(erasure.request_id, erasure.requested_at, erasure.customer_id, sync_name, destination_type,
                  key_hash(key), now) for key, erasure in held.items()],
            )  # fmt: skip

    def failed_erasures(self, sync_name: str, attempts: Iterable[ErasureAttempt]) -> None:
        """Erasures that could not be attempted or answered (the destination is down, its settings are wrong):
        counted as attempts, with the reason, still pending."""
        self.record_batch("", sync_name, [], {}, attempts)

    def start_run(self, run_id: str, sync_name: str, started_at: datetime, full: bool, supersedes: bool = True) -> None:
        """Records the run as `started` before anything is sent, so that a run killed midway stays visible; a
        run of the same sync still `started` from before was interrupted (one run of a sync at a time)."""
        with self._lock:
            self._con.execute(
                f"update {SCHEMA}.sync_runs set status = 'interrupted', "
                "finished_at = coalesce(finished_at, started_at), "
                "error = 'the process running it stopped before it finished' "
                "where ? and sync_name = ? and status = 'started' and run_id <> ?",
                [supersedes, sync_name, run_id],
            )
            self._con.execute(
                f"insert into {SCHEMA}.sync_runs (run_id, sync_name, started_at, status, full_resync, planned, sent, "
                "accepted, rejected, skipped) values (?, ?, ?, 'started', ?, 0, 0, 0, 0, 0)",
                [run_id, sync_name, started_at, full],
            )

    def record_run(self, row: dict[str, object]) -> None:
        """The run's outcome, on the row `start_run` wrote."""
        keys = ("run_id", "sync_name")
        assignments = ", ".join(f"{column} = ?" for column in row if column not in keys)
        with self._lock:
            self._con.execute(
                f"update {SCHEMA}.sync_runs set {assignments} where run_id = ? and sync_name = ?",
                [*(value for column, value in row.items() if column not in keys), row["run_id"], row["sync_name"]],
            )


def _write_state(
    cursor: duckdb.DuckDBPyConnection, sync_name: str, now_acknowledged: dict[str, Acknowledged | None], now: datetime
) -> None:
    keys = list(now_acknowledged)
    if keys:
        cursor.execute(
            f"delete from {SCHEMA}.sync_state where sync_name = ? and record_key in (select unnest(?::varchar[]))",
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
            "customer_id": pa.array([ack.customer_id for ack in kept.values()], pa.string()),
        }))  # fmt: skip
        cursor.execute(
            f"insert into {SCHEMA}.sync_state (sync_name, record_key, fields_hash, fields_json, acknowledged_at, "
            "customer_id) select * from acknowledged_rows"
        )
