"""The privacy path as Dagster assets: what must happen on every run, whatever else failed.

- `reverse_etl/erasures` delivers pending erasures to every destination that holds the person, downstream of
  `marts/privacy_requests` only: no activation model, no activation check and no other sync can hold it back.
  Its check fails when an erasure has waited longer than `TESSERA_ERASURE_SLA_DAYS` (7).
- `raw/_erasures` removes erased people's records from every table of the warehouse and from the landing files
  (`orchestration/privacy.py`), keeping hashed tombstones.

No `from __future__ import annotations` here: Dagster reads the asset functions' annotations as real types.
"""

import dagster as dg
from dagster import AssetExecutionContext

from reverse_etl.engine import run_syncs
from reverse_etl.privacy import privacy_report
from reverse_etl.sync_files import SyncDefinition
from tessera.settings import Settings, settings

from ..privacy import purge_erased
from .automation import SYNCS_GROUP, retry_policy
from .resources import DEFAULT_OWNER, LandingFolder, Warehouse

ERASURES_KEY = dg.AssetKey(["reverse_etl", "erasures"])
ERASURE_SLA_CHECK = "erasures_delivered_within_sla"


def build_erasure_asset(syncs: list[SyncDefinition], current: Settings) -> dg.AssetsDefinition:
    """The privacy path: every sync's pending erasures, delivered, and the service-level check over them."""

    @dg.asset(
        key=ERASURES_KEY,
        deps=[dg.AssetKey(["marts", "privacy_requests"])],
        group_name=SYNCS_GROUP,
        owners=[DEFAULT_OWNER],
        kinds={"python"},
        retry_policy=retry_policy(current),
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
        sla_days = settings().erasure_sla_days
        results = run_syncs(warehouse.resolved_path, syncs, erase_only=True)
        failed = [f"sync {result.name}: {result.error}" for result in results if result.status == "failed"]
        for failure in failed:
            context.log.error(f"erasures not delivered: {failure}")
        with warehouse.read() as con:
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


def build_purge_asset() -> dg.AssetsDefinition:
    """Removes erased people's records from the warehouse and the landing files after every build."""

    @dg.asset(
        key=dg.AssetKey(["raw", "_erasures"]),
        deps=[dg.AssetKey(["marts", "privacy_requests"]), dg.AssetKey(["marts", "customer_profiles"])],
        group_name="profiles",
        owners=[DEFAULT_OWNER],
        kinds={"duckdb", "python"},
        description="Removes erased people's records from every table of the warehouse and from the landing "
        "files, keeping hashed tombstones (raw._erasures) and an audit of each removal (raw._erasure_purges).",
    )
    def erasure_purge(warehouse: Warehouse, landing: LandingFolder) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            report = purge_erased(con, landing.resolved_path)
        return dg.MaterializeResult(
            metadata={
                "customers": report.customers,
                "rows_removed": report.total,
                "removed": dg.MetadataValue.json(report.rows),
            }
        )

    return erasure_purge
