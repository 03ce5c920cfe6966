"""Tessera's Dagster shell: every module that imports Dagster is in this folder, and nothing outside it does
(`tests/test_architecture.py` holds it so). The libraries below it (sources and loading, quality suites,
segments, demo data, `reverse_etl`, `identity`, `tessera`) know nothing of Dagster.

- `definitions()`: the loaders, the dbt project, the syncs, the jobs, schedules and sensors that run them
  (`automation`), freshness checks, and the sensor that fails runs whose process died (`runs`), built from the
  project that `orchestration.prepare.prepare()` wrote, and cached until it writes another manifest;
- `pipeline.run_pipeline`: one run of the pipeline job, in-process (`tessera run`);
- `instance`: where runs are recorded.
"""

from __future__ import annotations

import functools

import dagster as dg

from tessera.settings import MANIFEST, Settings, settings

from ..prepare import project_syncs
from .automation import (
    MART_PREFIXES,
    daily_pipeline,
    freshness_checks,
    new_landing_files,
    pipeline_job,
    sync_schedules,
    weekly_full_checks,
)
from .checks import build_warehouse_checks
from .dbt_assets import dbt_models, dbt_resource
from .loader_assets import loader_assets
from .privacy_assets import ERASURES_KEY, build_erasure_asset, build_purge_asset
from .resources import LandingFolder, Warehouse
from .runs import dead_runs
from .sync_assets import build_sync_assets, sync_asset_key


class ProjectNotPrepared(RuntimeError):
    """There is no manifest to build the definitions from."""


def definitions() -> dg.Definitions:
    """The Definitions of the prepared project, as the settings say now (built once per manifest and settings)."""
    if not MANIFEST.exists():
        raise ProjectNotPrepared(f"{MANIFEST} is missing: run `tessera prepare` (any `tessera run` does it) first")
    return _definitions(MANIFEST.stat().st_mtime_ns, settings())


@functools.cache
def _definitions(manifest_version: int, current: Settings) -> dg.Definitions:
    syncs = project_syncs(current.syncs_dir)
    models = dbt_models()
    loaders = loader_assets(current)
    marts = [key for key in models.keys if key.path[0] in MART_PREFIXES]
    *freshness, freshness_sensor = freshness_checks(current, [key for a in loaders for key in a.keys], marts)
    pipeline = pipeline_job()
    sync_jobs, sync_schedules_ = sync_schedules(
        current, syncs, {sync.name: sync_asset_key(sync) for sync in syncs}, ERASURES_KEY
    )
    return dg.Definitions(
        assets=[
            *loaders,
            models,
            *build_sync_assets(syncs, current),
            build_erasure_asset(syncs, current),
            build_purge_asset(),
        ],
        asset_checks=[*freshness, build_warehouse_checks(list(models.keys))],
        jobs=[pipeline, *sync_jobs],
        schedules=[daily_pipeline(current, pipeline), weekly_full_checks(current, pipeline), *sync_schedules_],
        sensors=[new_landing_files(current, pipeline), freshness_sensor, dead_runs],
        resources={"warehouse": Warehouse(), "landing": LandingFolder(), "dbt": dbt_resource()},
    )
