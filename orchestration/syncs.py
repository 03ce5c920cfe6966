"""Sync assets: one asset per reverse-ETL sync (`reverse_etl/syncs/*.yml`), downstream of its activation model,
They materialise together, in one step, because the engine runs the selected syncs side by side: a slow or
dead destination holds up no other. Each sync reports its counts as metadata; a failed sync is not
materialised and fails the step with its reason, after the others have finished.

No `from __future__ import annotations` here: Dagster reads the asset functions' annotations as real types.
"""

import dagster as dg
from dagster import AssetExecutionContext

from reverse_etl.definitions import SyncDefinition
from reverse_etl.engine import run_syncs

from .automation import retry_policy
from .resources import Warehouse
from .settings import DEFAULT_OWNER

SYNCS_GROUP = "syncs"


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
                    "not_sendable": dg.MetadataValue.int(result.not_sendable),
                    "erased": dg.MetadataValue.int(result.erased),
                    "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
                },
            )
        if failed:
            # Only a destination that was unavailable is worth another attempt (the step's retry policy); a sync
            # that cannot run as defined fails at once.
            raise dg.Failure(description="; ".join(failed), allow_retries=retryable)

    return [sync_all]
