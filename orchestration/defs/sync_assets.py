"""Sync assets: one asset per reverse-ETL sync (`TESSERA_SYNCS_DIR`, `reverse_etl/syncs/*.yml`), downstream of
its activation model. They materialise together, in one step, because the engine runs the selected syncs side by
side: a slow or dead destination holds up no other. Each sync reports its counts as metadata; a sync whose
destination was unavailable is tried again on its own (`run_syncs_retrying`); a sync that still fails is not
materialised and fails the step, named with its reason, after the others have finished.

No `from __future__ import annotations` here: Dagster reads the asset functions' annotations as real types.
"""

import logging
import random
import time
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from reverse_etl.engine import SyncResult, run_syncs
from reverse_etl.sync_files import SyncDefinition
from tessera.settings import Settings, settings

from .automation import SYNCS_GROUP, retry_policy
from .resources import DEFAULT_OWNER, Warehouse


def sync_asset_key(sync: SyncDefinition) -> dg.AssetKey:
    return dg.AssetKey(["reverse_etl", sync.name])


def build_sync_assets(syncs: list[SyncDefinition], current: Settings) -> list[dg.AssetsDefinition]:
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
            f"{', '.join(sync.consents)}), at {sync.schedule or current.syncs_cron}, as defined in "
            f"{sync.defined_in.name}.",
            skippable=True,
        )
        for key, sync in by_key.items()
    ]

    @dg.multi_asset(specs=specs, can_subset=True, name="reverse_etl_syncs", retry_policy=retry_policy(current))
    def sync_all(context: AssetExecutionContext, warehouse: Warehouse):
        selected = [sync for key, sync in by_key.items() if key in context.selected_asset_keys]
        failed: dict[str, str] = {}
        for result in run_syncs_retrying(warehouse.resolved_path, selected, context.log):
            if result.status == "failed":
                failed[result.name] = result.error or "failed"
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
            # Each failing sync by name; they were retried here, alone, as far as worth it: the step is not run
            # again (which would send every other sync once more).
            raise dg.Failure(
                description="; ".join(f"sync {name}: {error}" for name, error in failed.items()),
                metadata={FAILED_SYNCS: dg.MetadataValue.json(failed)},
                allow_retries=False,
            )

    return [sync_all]


FAILED_SYNCS = "failed_syncs"


def run_syncs_retrying(warehouse: Path, syncs: list[SyncDefinition], log: logging.Logger) -> list[SyncResult]:
    """Runs `syncs` side by side, then again only those that failed because their destination was unavailable
    (`retryable`): `TESSERA_STEP_RETRIES` times (2), after `TESSERA_STEP_RETRY_SECONDS` (30), doubling. A sync
    that cannot run as defined, or whose credential was refused, is not tried again. One result per sync."""
    current = settings()
    results = {result.name: result for result in run_syncs(warehouse, syncs)}
    delay = current.step_retry_seconds
    for attempt in range(1, current.step_retries + 1):
        again = [sync for sync in syncs if results[sync.name].status == "failed" and results[sync.name].retryable]
        if not again:
            break
        names = ", ".join(sync.name for sync in again)
        log.warning(f"retrying {names} in {delay:g} s (attempt {attempt + 1} of {current.step_retries + 1})")
        time.sleep(delay * random.uniform(0.75, 1.25))
        delay *= 2
        results.update((result.name, result) for result in run_syncs(warehouse, again))
    return [results[sync.name] for sync in syncs]
