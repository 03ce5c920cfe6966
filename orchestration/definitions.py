"""Tessera's Dagster definitions: the loaders, the dbt project, the syncs, and the job that runs them all.

Load them with `dagster dev -m orchestration.definitions`, or through `tessera run`, which runs the pipeline
job once in-process.
"""

from __future__ import annotations

import dagster as dg

from .dbt_project import dbt_cli_resource, prepare_dbt_project_if_needed

prepare_dbt_project_if_needed()  # the dbt assets below are built from the manifest

from reverse_etl.engine import load_syncs  # noqa: E402

from .dbt import tessera_dbt_models  # noqa: E402
from .loaders import loader_assets  # noqa: E402
from .resources import LandingFolder, Warehouse  # noqa: E402
from .syncs import build_sync_assets  # noqa: E402

pipeline_job = dg.define_asset_job(
    "tessera_pipeline",
    selection=dg.AssetSelection.all(),
    description="Load new landing files, build and test the dbt project, then run the syncs.",
)

defs = dg.Definitions(
    assets=[*loader_assets, tessera_dbt_models, *build_sync_assets(load_syncs())],
    jobs=[pipeline_job],
    resources={
        "warehouse": Warehouse(),
        "landing": LandingFolder(),
        "dbt": dbt_cli_resource(),
    },
)
