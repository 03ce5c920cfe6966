"""Sync assets: one asset per reverse-ETL sync (`reverse_etl/syncs/*.yml`), downstream of its activation model,
and the privacy path beside them.

They materialise together, in one step, because the engine runs the selected syncs side by side: a slow or
dead destination holds up no other. Each sync reports its counts as metadata; a failed sync is not
materialised and fails the step with its reason, after the others have finished.

`reverse_etl/erasures` delivers pending erasures to every destination that holds the person, downstream of
`marts/privacy_requests` only: no activation model, no activation check and no other sync can hold it back. Its
check fails when an erasure has waited longer than `TESSERA_ERASURE_SLA_DAYS` (7).

No `from __future__ import annotations` here: Dagster reads the asset functions' annotations as real types.
"""

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from reverse_etl.definitions import SyncDefinition
from reverse_etl.engine import run_syncs
from reverse_etl.privacy import privacy_report

from .automation import retry_policy
from .resources import Warehouse
from .settings import DEFAULT_OWNER, erasure_sla_days

SYNCS_GROUP = "syncs"
ERASURES_KEY = dg.AssetKey(["reverse_etl", "erasures"])
ERASURE_SLA_CHECK = "erasures_delivered_within_sla"


def sync_asset_key(sync: SyncDefinition) -> dg.AssetKey:
    return dg.AssetKey(["reverse_etl", sync.name])


def build_sync_assets(syncs: list[SyncDefinition]) -> list[dg.AssetsDefinition]:
    if not syncs:
        return []
    by_key = {sync_asset_key(sync): sync for sync in syncs}
    specs = [
        dg.AssetSpec(
            key=key,
            deps=[dg.AssetKey(["activation", sync.model])],
            group_name=SYNCS_GROUP,
            owners=[sync.owner or DEFAULT_OWNER],
            kinds={"python", sync.destination_type},
            description=f"Syncs activation.{sync.model} to {sync.destination_type} ({sync.mode}, consent "
            f"{', '.join(sync.consents)}), as defined in reverse_etl/syncs/{sync.defined_in.name}.",
            skippable=True,
        )
        for key, sync in by_key.items()
    ]

    @dg.multi_asset(specs=specs, can_subset=True, name="reverse_etl_syncs", retry_policy=retry_policy())
    def sync_all(context: AssetExecutionContext, warehouse: Warehouse):
        selected = [sync for key, sync in by_key.items() if key in context.selected_asset_keys]
        failed, retryable = [], False
        for result in run_syncs(warehouse.resolved_path, selected):
            if result.status == "failed":
                failed.append(f"sync {result.name}: {result.error}")
                retryable = retryable or result.retryable
                continue
            yield dg.MaterializeResult(
                asset_key=sync_asset_key(by_key[dg.AssetKey(["reverse_etl", result.name])]),
                metadata={
                    "planned": result.planned,
                    "sent": result.sent,
                    "accepted": result.accepted,
                    "rejected": result.rejected,
                    "skipped": result.skipped,
                    "not_eligible": dg.MetadataValue.int(result.not_eligible),
                    "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
                },
            )
        if failed:
            # Only a destination that was unavailable is worth another attempt (the step's retry policy); a sync
            # that cannot run as defined fails at once.
            raise dg.Failure(description="; ".join(failed), allow_retries=retryable)

    return [sync_all]


def build_erasure_asset(syncs: list[SyncDefinition]) -> dg.AssetsDefinition:
    """The privacy path: every sync's pending erasures, delivered, and the service-level check over them."""

    @dg.asset(
        key=ERASURES_KEY,
        deps=[dg.AssetKey(["marts", "privacy_requests"])],
        group_name=SYNCS_GROUP,
        owners=[DEFAULT_OWNER],
        kinds={"python"},
        retry_policy=retry_policy(),
        description="Erases the people marts.privacy_requests names from every destination that holds them, "
        "with each vendor's own deletion, and records each delivery in reverse_etl.erasure_deliveries.",
        check_specs=[
            dg.AssetCheckSpec(
                ERASURE_SLA_CHECK,
                asset=ERASURES_KEY,
                description="No erasure has waited for a destination's confirmation longer than "
                "TESSERA_ERASURE_SLA_DAYS (7) since it was requested.",
            )
        ],
    )
    def erasures(context: AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        sla_days = erasure_sla_days()
        results = run_syncs(warehouse.resolved_path, syncs, erase_only=True)
        failed = [f"sync {result.name}: {result.error}" for result in results if result.status == "failed"]
        for failure in failed:
            context.log.error(f"erasures not delivered: {failure}")
        with duckdb.connect(str(warehouse.resolved_path), read_only=True) as con:
            report = privacy_report(con)
        overdue = report.overdue(sla_days)
        described = "; ".join(
            f"request {e.request_id} to {e.sync_name} ({e.destination_type}): {e.age_days:.1f} days, "
            f"{e.attempts} attempt(s){f', last error: {e.error}' if e.error else ''}"
            for e in overdue[:5]
        )
        return dg.MaterializeResult(
            metadata={
                "erased": sum(result.erased for result in results),
                "pending": len(report.open),
                "delivered_in_all": report.delivered,
                "failed_syncs": dg.MetadataValue.json(failed),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=ERASURE_SLA_CHECK,
                    passed=not overdue,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=(
                        f"{len(overdue)} erasure(s) older than {sla_days:g} days: {described}"
                        if overdue
                        else f"{len(report.open)} open, none older than {sla_days:g} days"
                    ),
                    metadata={"open": len(report.open), "overdue": len(overdue)},
                )  # fmt: skip
            ],
        )

    return erasures
