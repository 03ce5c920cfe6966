"""Tessera's Dagster definitions: the loaders, the dbt project, the syncs, the jobs, schedules and sensors that
run them (automation.py), freshness checks, and the sensor that fails runs whose process died (runs.py).

Load them with `dagster dev -m orchestration.definitions`, or through `tessera run`, which runs the pipeline
job once in-process.
"""

from __future__ import annotations

import dagster as dg

from .dbt_project import dbt_cli_resource, prepare_dbt_project_if_needed

prepare_dbt_project_if_needed()  # the dbt assets below are built from the manifest

from reverse_etl.engine import load_syncs  # noqa: E402

from .automation import (  # noqa: E402
    MART_PREFIXES,
    daily_pipeline,
    freshness_checks,
    hourly_syncs,
    new_landing_files,
    pipeline_job,
    syncs_job,
)
from .dbt import tessera_dbt_models  # noqa: E402
from .loaders import loader_assets  # noqa: E402
from .privacy_path import build_erasure_asset, build_purge_asset  # noqa: E402
from .quality.checks import build_warehouse_checks  # noqa: E402
from .resources import LandingFolder, Warehouse  # noqa: E402
from .runs import dead_runs  # noqa: E402
from .syncs import build_sync_assets  # noqa: E402

marts = [key for key in tessera_dbt_models.keys if key.path[0] in MART_PREFIXES]
syncs = load_syncs()
*freshness, freshness_sensor = freshness_checks([key for a in loader_assets for key in a.keys], marts)

defs = dg.Definitions(
    assets=[
        *loader_assets,
        tessera_dbt_models,
        *build_sync_assets(syncs),
        build_erasure_asset(syncs),
        build_purge_asset(),
    ],
    asset_checks=[*freshness, build_warehouse_checks(list(tessera_dbt_models.keys))],
    jobs=[pipeline_job, syncs_job],
    schedules=[daily_pipeline, hourly_syncs],
    sensors=[new_landing_files, freshness_sensor, dead_runs],
    resources={
        "warehouse": Warehouse(),
        "landing": LandingFolder(),
        "dbt": dbt_cli_resource(),
    },
)
