"""Tessera's Dagster definitions: the loaders, the dbt project, and the job that runs them all.

Load them with `dagster dev -m orchestration.definitions`, or through `tessera run`, which runs the pipeline
job once in-process.
"""

from __future__ import annotations

import dagster as dg

from .dbt_project import dbt_cli_resource, prepare_dbt_project_if_needed

prepare_dbt_project_if_needed()  # the dbt assets below are built from the manifest

from .dbt import tessera_dbt_models  # noqa: E402
from .loaders import loader_assets  # noqa: E402
from .resources import LandingFolder, Warehouse  # noqa: E402

pipeline_job = dg.define_asset_job(
    "tessera_pipeline",
    selection=dg.AssetSelection.all(),
    description="Load new landing files, then build and test the dbt project.",
)

defs = dg.Definitions(
    assets=[*loader_assets, tessera_dbt_models],
    jobs=[pipeline_job],
    resources={
        "warehouse": Warehouse(),
        "landing": LandingFolder(),
        "dbt": dbt_cli_resource(),
    },
)
