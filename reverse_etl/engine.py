"""The sync engine: each sync's activation model, diffed against what its destination acknowledged, sent.

For one sync, a run:
1. reads `activation.<model>` (filtered by the sync's `where`); fails with a clear message on a missing column,
   a null or duplicate primary key, or a model that does not carry the consent column and `is_suppressed`;
2. keeps only rows whose `consent_<purpose>` is true for each of the sync's purposes and that are not
   suppressed: the others are never sent, and a customer who loses consent, is suppressed or erased counts as
   removed, so leaves the destination;
3. plans, against `reverse_etl.sync_state`: rows added, changed (over the mapped fields only) and removed, and
   the operation each gets in the sync's mode (MODE_OPERATIONS); a full resync re-sends every current row, and
   in mirror mode to a destination that can replace its whole content (Meta's `usersreplace`) sends every
   current row as one `replace`, which drops the removed rows without a delete each;
4. rejects, without a call, rows the destination cannot take at all (`unsendable`: no email for an email tool),
   once: such a row is recorded as not sendable and not planned again until its fields change;
   sends removals, then the rest, in batches of the destination's size, and after each acknowledged batch
   records in one transaction the rows' results and the new acknowledged state.

Before all that, and whatever becomes of it, the run erases: every row the destination acknowledged for a
customer an erasure request names (`marts.privacy_requests`) is sent as `erase`, the vendor's own deletion
(HubSpot's GDPR delete, Klaviyo's data-privacy deletion job, Mailchimp's permanent delete, ...), in every mode.
Its state, which holds the identifiers the vendor deletes by, is kept until the vendor confirms, so an erasure
that fails is tried again on every run; `reverse_etl.erasure_deliveries` says where each one stands. A row
removed in a mode that never deletes (upsert, insert, update) keeps its state for the same reason: the
destination still holds it.

Rows a destination rejects leave no state, so every later run sends them again until they succeed. A crash
anywhere re-sends only what was not acknowledged. Syncs run side by side, each in its own thread, so a slow or
dead destination holds up no other. A dry run plans and renders and validates payloads, and writes nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tessera.warehouse import connect, read_only, table_exists

from .destinations import DESTINATIONS
from .destinations.base import Change, Destination, RowAnswer
from .retry import FatalError, RetriableError
from .state import Acknowledged, Erasure, ErasureAttempt, RowOutcome, SyncState, read_acknowledged
from .sync_files import ConsentPolicy, SyncDefinition, condition_problem, load_definitions

ACTIVATION_SCHEMA = "activation"
# mode -> (operation for added rows, for changed rows, for removed rows); None: not sent, state moves on.
MODE_OPERATIONS: dict[str, tuple[str | None, str | None, str | None]] = {
    "insert": ("insert", None, None),
    "update": ("update", "update", None),
    "upsert": ("upsert", "upsert", None),
    "mirror": ("upsert", "upsert", "delete"),
    "audience": ("add", "add", "remove"),
}
REMOVALS = ("delete", "remove")
ERASE = "erase"
WITHDRAW = "withdraw"  # a row that lost its consent, in a mode that never deletes: its marketing fields cleared
PRIVACY_REQUESTS = "marts.privacy_requests"


class SyncFailed(RuntimeError):
    """The sync cannot run as defined; the message says why, without personal data."""


@dataclass
class PlannedChange:
    operation: str | None
    change: Change
    fields_hash: str | None  # None for a removal
    customer_id: str | None = None


@dataclass
class SyncResult:
    name: str
    status: str = "succeeded"
    planned: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    erased: int = 0  # held rows whose erasure the destination confirmed this run
    erasures_pending: int = 0  # held rows of erased customers still at the destination after this run
    not_eligible: int = 0
    not_sendable: int = 0  # rows found unsendable before and unchanged since: not planned
    seconds: float = 0.0
    error: str | None = None
    retryable: bool = False  # failed because the destination was unavailable: a later attempt may succeed
    plan: list[PlannedChange] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)  # why rows were rejected, by message
    erased_keys: set[str] = field(default_factory=set)
    erase_attempted: set[str] = field(default_factory=set)  # held rows the destination answered for


def load_syncs(folder: Path, *, purposes: list[str]) -> list[SyncDefinition]:
    """Every sync of `folder/*.yml`, validated against the destinations and `purposes`, the consent purposes the
    project declares (its caller knows them: the library knows no project)."""
    modes = {name: cls.modes for name, cls in DESTINATIONS.items()}
    categories = {name: cls.category for name, cls in DESTINATIONS.items()}
    return load_definitions(
        folder,
        destination_types=modes,
        purposes=purposes,
        categories=categories,
        policy=ConsentPolicy.read(),
        settings_models={name: cls.settings_model for name, cls in DESTINATIONS.items()},
    )


def run_syncs(
    warehouse: Path,
    syncs: list[SyncDefinition],
    *,
    dry_run: bool = False,
    full: bool = False,
    erase_only: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[SyncResult]:
    """Runs `syncs` side by side against `warehouse`; one result per sync, in the order given. `erase_only`
    delivers the pending erasures and nothing else: the privacy path, which needs no activation model."""
    if not syncs:
        return []
    with read_only(warehouse) if dry_run else connect(warehouse, memory_limit=None) as con:
        # A sync's `where` is a user's text: it reaches nothing outside the warehouse, and cannot say otherwise.
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        state = None if dry_run else SyncState(con)
        run_id = uuid.uuid4().hex
        files = files_folder(warehouse)
        with ThreadPoolExecutor(max_workers=len(syncs), thread_name_prefix="sync") as pool:
            futures = [
                pool.submit(_run_one, con.cursor(), state, run_id, sync, files, dry_run, full, erase_only, progress)
                for sync in syncs
            ]
            return [future.result() for future in futures]


def files_folder(warehouse: Path) -> Path:
    """Where syncs' relative paths lead: a folder named after the warehouse file, beside it
    (warehouse/tessera/ for warehouse/tessera.duckdb), so two warehouses never share an exported file."""
    return warehouse.parent / warehouse.stem


def _run_one(
    cursor: duckdb.DuckDBPyConnection,
    state: SyncState | None,
    run_id: str,
    sync: SyncDefinition,
    workdir: Path,
    dry_run: bool,
    full: bool,
    erase_only: bool,
    progress: Callable[[str, int, int], None] | None,
) -> SyncResult:
    started = time.monotonic()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    result = SyncResult(sync.name, status="dry run" if dry_run else "succeeded")
    destination: Destination | None = None
    held: dict[str, Erasure] = {}
    if state is not None and not erase_only:
        state.start_run(run_id, sync.name, started_at, full)
    try:
        acknowledged = read_acknowledged(cursor, sync.name) if state is None else state.acknowledged(sync.name)
        erasures = erasure_requests(cursor)
        held = {key: erasures[ack.customer_id] for key, ack in acknowledged.items() if ack.customer_id in erasures}
        if state is not None:
            state.plan_erasures(sync.name, sync.destination_type, held)
        if erase_only and not held:
            return result  # nothing to do, nothing to record
        destination = DESTINATIONS[sync.destination_type](sync, workdir)
        erase = [PlannedChange(ERASE, Change(key, json.loads(acknowledged.pop(key).fields_json)), None)
                 for key in held]  # fmt: skip
        if dry_run:
            result.plan.extend(erase)
        elif erase:
            _erase(sync, destination, state, run_id, result, erase, held)
        result.planned = len(erase)
        if not erase_only:
            rows, withheld = _eligible_rows(cursor, sync, erasures)
            destination.declare(_field_types(cursor, sync))
            result.not_eligible = len(withheld)
            replace = full and sync.mode == "mirror" and destination.replaces and bool(rows)
            plan = _plan(sync, rows, acknowledged, full, replace, withheld, destination.key_fields)
            known = {} if state is None else state.not_sendable(sync.name)
            kept = [p for p in plan if not (p.fields_hash and known.get(p.change.record_key) == p.fields_hash)]
            result.not_sendable = len(plan) - len(kept)
            result.plan += kept
            result.planned = sum(1 for planned in result.plan if planned.operation)
            if dry_run:
                for planned in result.plan:
                    if planned.operation and (problems := destination.validate(planned.operation, planned.change)):
                        result.problems[planned.change.record_key] = problems
            else:
                _send(sync, destination, state, run_id, result, progress)
    except RetriableError as error:
        result.status, result.error, result.retryable = "failed", str(error), True
    except (FatalError, SyncFailed) as error:  # fatal: a person must act; trying again changes nothing
        result.status, result.error = "failed", str(error)
    except Exception as error:  # a destination's bug must not take the other syncs down
        result.status, result.error = "failed", f"{type(error).__name__}: {error}"
    finally:
        if destination is not None:
            destination.close()
    if state is not None and result.erased < len(held):
        result.erasures_pending = len(held) - result.erased
        if result.error:  # the erasures not confirmed were stopped by this error: say so where they wait
            state.failed_erasures(sync.name, [
                ErasureAttempt(erasure, key, False, result.error) for key, erasure in held.items()
                if key not in result.erase_attempted
            ])  # fmt: skip
    result.seconds = time.monotonic() - started
    if state is not None and erase_only:
        state.start_run(run_id, sync.name, started_at, full, supersedes=False)  # only runs that erased something
    if state is not None:
        state.record_run(
            {
                "run_id": run_id, "sync_name": sync.name, "started_at": started_at,
                "finished_at": datetime.now(UTC).replace(tzinfo=None), "status": result.status,
                "full_resync": full, "planned": result.planned, "sent": result.sent, "accepted": result.accepted,
                "rejected": result.rejected, "skipped": result.skipped, "duration_seconds": result.seconds,
                "error": result.error,
            }
        )  # fmt: skip
    return result


def erasure_requests(cursor: duckdb.DuckDBPyConnection) -> dict[str, Erasure]:
    """The erasure requests that name a customer, by customer (the earliest request per customer: the one whose
    deadline runs first). Nothing before the marts were first built."""
    if not table_exists(cursor, "marts", "privacy_requests"):
        return {}
    rows = cursor.execute(
        f"select customer_id, arg_min(request_id, requested_at), min(requested_at) from {PRIVACY_REQUESTS} "
        "where request_type = 'erase' and customer_id is not null group by 1"
    ).fetchall()
    return {customer: Erasure(request, customer, requested_at) for customer, request, requested_at in rows}


def _erase(
    sync: SyncDefinition,
    destination: Destination,
    state: SyncState,
    run_id: str,
    result: SyncResult,
    erase: list[PlannedChange],
    held: dict[str, Erasure],
) -> None:
    """Sends the held rows of erased customers as `erase`, batch by batch; a confirmed row's state and its
    delivery are written in one transaction. An unavailable destination stops here, with the rest pending."""
    size = destination.batch_size_for(ERASE)
    for batch in (erase[i : i + size] for i in range(0, len(erase), size)):
        answers = {answer.record_key: answer for answer in destination.send(ERASE, [p.change for p in batch])}
        result.erase_attempted.update(planned.change.record_key for planned in batch)
        outcomes, attempts, forgotten = [], [], {}
        for planned in batch:
            key = planned.change.record_key
            answer = answers.get(key)
            done = answer is not None and answer.accepted
            error = None if done else (answer.error if answer else "the destination did not answer for this row")
            outcomes.append(RowOutcome(key, ERASE, "accepted" if done else "rejected", error))
            attempts.append(ErasureAttempt(held[key], key, done, error))
            if done:
                forgotten[key] = None
                result.erased_keys.add(key)
        state.record_batch(run_id, sync.name, outcomes, forgotten, attempts)
        result.erased = len(result.erased_keys)
        result.sent += len(batch)
        result.accepted += len(forgotten)
        result.rejected += len(batch) - len(forgotten)


def _field_types(cursor: duckdb.DuckDBPyConnection, sync: SyncDefinition) -> dict[str, Any]:
    """The Arrow type of each mapped field, from the activation model's columns (a template is text; a constant
    None, whatever its value is)."""
    schema = cursor.sql(f"select * from {ACTIVATION_SCHEMA}.{sync.model} limit 0").to_arrow_table().schema
    types: dict[str, Any] = {}
    for mapping in sync.mapping:
        if mapping.column is not None:
            types[mapping.target] = schema.field(mapping.column).type
        else:
            types[mapping.target] = pa.string() if mapping.template is not None else None
    return types


def _eligible_rows(
    cursor: duckdb.DuckDBPyConnection, sync: SyncDefinition, erasures: dict[str, Erasure]
) -> tuple[list[dict[str, Any]], set[str]]:
    """The model's rows that may be sent, and the keys of those that may not (no consent, suppressed, erased)."""
    relation = f"{ACTIVATION_SCHEMA}.{sync.model}"
    if sync.where is not None and (problem := condition_problem(sync.where)):
        raise SyncFailed(f"where: {problem}; nothing was read or sent")
    try:
        query = cursor.execute(f"select * from {relation}" + (f" where {sync.where}" if sync.where else ""))
    except duckdb.CatalogException:
        raise SyncFailed(f"{relation} does not exist: build the dbt project first (`tessera run`)") from None
    except duckdb.Error as error:
        raise SyncFailed(f"reading {relation} with where {sync.where!r} failed: {error}") from None
    columns = [description[0] for description in query.description]
    consents = [f"consent_{purpose}" for purpose in sync.consents]
    required = {sync.primary_key, "customer_id", *consents, "is_suppressed"} | sync.mapped_columns()
    if missing := sorted(required - set(columns)):
        raise SyncFailed(
            f"{relation} has no column(s) {', '.join(missing)}"
            + (
                " (every activation model carries customer_id, consent_<purpose> and is_suppressed)"
                if {*consents, "customer_id"} & set(missing)
                else ""
            )
        )
    rows = [dict(zip(columns, values, strict=True)) for values in query.fetchall()]
    keys = [row[sync.primary_key] for row in rows]
    if nulls := sum(1 for key in keys if key is None):
        raise SyncFailed(f"{relation}: {nulls} row(s) with a null {sync.primary_key}; nothing was sent")
    if duplicates := len(keys) - len({str(key) for key in keys}):
        raise SyncFailed(f"{relation}: {sync.primary_key} is not unique ({duplicates} duplicate rows); nothing sent")
    eligible, withheld = [], set()
    for row in rows:
        allowed = all(row[consent] is True for consent in consents) and row["is_suppressed"] is False
        if allowed and str(row["customer_id"]) not in erasures:
            eligible.append(row)
        else:
            withheld.add(str(row[sync.primary_key]))
    return eligible, withheld


def _plan(
    sync: SyncDefinition,
    rows: list[dict[str, Any]],
    acknowledged: dict[str, Acknowledged],
    full: bool,
    replace: bool = False,
    withheld: set[str] = frozenset(),
    key_fields: tuple[str, ...] = (),
) -> list[PlannedChange]:
    """`withheld`: keys of model rows that lost the sync's consent or were suppressed; in a mode that never
    deletes, the destination keeps such a row, so it is sent once as `withdraw`: its marketing fields (all but
    the destination's `key_fields`) cleared."""
    on_added, on_changed, on_removed = ("replace", "replace", None) if replace else MODE_OPERATIONS[sync.mode]
    plan: list[PlannedChange] = []
    current: set[str] = set()
    for row in rows:
        key = str(row[sync.primary_key])
        current.add(key)
        fields = sync.payload(row)
        fields_hash = _hash(fields)
        before = acknowledged.get(key)
        customer = None if row["customer_id"] is None else str(row["customer_id"])
        if before is None:
            plan.append(PlannedChange(on_added, Change(key, fields), fields_hash, customer))
        elif full or before.fields_hash != fields_hash:
            plan.append(PlannedChange(on_changed, Change(key, fields), fields_hash, customer))
        elif before.customer_id != customer:  # state from before it named customers: learn whose, send nothing
            plan.append(PlannedChange(None, Change(key, fields), fields_hash, customer))
    if on_removed is None and not replace:  # a mode that never deletes: the destination keeps what it holds
        for key in sorted((set(acknowledged) - current) & withheld):
            before = json.loads(acknowledged[key].fields_json)
            cleared = {name: value if name in key_fields else None for name, value in before.items()}
            if cleared != before:
                plan.append(
                    PlannedChange(WITHDRAW, Change(key, cleared), _hash(cleared), acknowledged[key].customer_id)
                )
        return plan
    for key in sorted(set(acknowledged) - current):
        plan.append(PlannedChange(on_removed, Change(key, json.loads(acknowledged[key].fields_json)), None))
    return plan


def _hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(_json(fields).encode()).hexdigest()


def _json(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))


def _send(
    sync: SyncDefinition,
    destination: Destination,
    state: SyncState,
    run_id: str,
    result: SyncResult,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    to_send = [planned for planned in result.plan if planned.operation]
    unsendable = {
        planned.change.record_key: why
        for planned in to_send
        if (why := destination.unsendable(planned.operation, planned.change))
    }
    if unsendable:  # rejected without a call, recorded once; planned again only when the row changes
        outcomes = [RowOutcome(p.change.record_key, p.operation, "rejected", unsendable[p.change.record_key])
                    for p in to_send if p.change.record_key in unsendable]  # fmt: skip
        not_sendable = {p.change.record_key: (p.fields_hash, unsendable[p.change.record_key])
                        for p in to_send if p.change.record_key in unsendable and p.fields_hash}  # fmt: skip
        state.record_batch(run_id, sync.name, outcomes, {}, not_sendable=not_sendable)
        result.rejected += len(outcomes)
        result.reasons.update(outcome.error for outcome in outcomes)
        to_send = [planned for planned in to_send if planned.change.record_key not in unsendable]
    replacing = any(planned.operation == "replace" for planned in result.plan)
    if replacing and not any(planned.operation == "replace" for planned in to_send):
        for planned in result.plan:  # nothing to replace the content with: remove the dropped rows one by one
            if planned.operation is None and planned.fields_hash is None:
                planned.operation = "delete"
                to_send.append(planned)
    ordered = sorted(to_send, key=lambda planned: planned.operation not in REMOVALS)
    done = 0
    for operation in dict.fromkeys(planned.operation for planned in ordered):
        of_operation = [planned for planned in ordered if planned.operation == operation]
        size = destination.batch_size_for(operation)
        batches = [of_operation[i : i + size] for i in range(0, len(of_operation), size)]
        destination.begin(operation, len(of_operation))
        # At most `concurrency` batches in flight (the rate limiter still paces them), each recorded, in
        # order, as soon as it is acknowledged: a crash re-sends at most the batches in flight.
        concurrency = destination.concurrency_for(operation)
        with ThreadPoolExecutor(concurrency, thread_name_prefix=f"{sync.name}-send") as senders:
            pending = iter(batches)
            in_flight: deque = deque()
            try:
                for batch in itertools.islice(pending, concurrency):
                    in_flight.append((batch, senders.submit(destination.send, operation, [p.change for p in batch])))
                while in_flight:
                    batch, future = in_flight.popleft()
                    _record(sync, state, run_id, result, operation, batch, future.result())
                    if (following := next(pending, None)) is not None:
                        changes = [p.change for p in following]
                        in_flight.append((following, senders.submit(destination.send, operation, changes)))
                    done += len(batch)
                    if progress:
                        progress(sync.name, done, len(ordered))
            except BaseException:
                senders.shutdown(cancel_futures=True)
                raise
    skipped = [planned for planned in result.plan if planned.operation is None]
    if skipped:  # nothing to send for these (in this mode, or dropped by a replace): the state moves on
        state.record_batch(run_id, sync.name, [], {p.change.record_key: _state_after(p) for p in skipped})
        result.skipped = len(skipped)


def _record(
    sync: SyncDefinition,
    state: SyncState,
    run_id: str,
    result: SyncResult,
    operation: str,
    batch: list[PlannedChange],
    answers: list[RowAnswer],
) -> None:
    by_key = {answer.record_key: answer for answer in answers}
    outcomes, now_acknowledged = [], {}
    for planned in batch:
        answer = by_key.get(planned.change.record_key)
        if answer is not None and answer.accepted:
            outcomes.append(RowOutcome(planned.change.record_key, operation, "accepted"))
            now_acknowledged[planned.change.record_key] = _state_after(planned)
        else:
            error = answer.error if answer else "the destination did not answer for this row"
            outcomes.append(RowOutcome(planned.change.record_key, operation, "rejected", error))
            result.reasons[error] += 1
    state.record_batch(run_id, sync.name, outcomes, now_acknowledged)
    result.sent += len(batch)
    result.accepted += len(now_acknowledged)
    result.rejected += len(batch) - len(now_acknowledged)


def _state_after(planned: PlannedChange) -> Acknowledged | None:
    if planned.fields_hash is None:
        return None  # removed: forgotten
    return Acknowledged(planned.fields_hash, _json(planned.change.fields), planned.customer_id)
