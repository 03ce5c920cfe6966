"""The dbt project as Dagster assets: every model downstream of the loaders it reads, dbt tests as asset checks.

Importing this module reads the manifest: `dbt_project.prepare_dbt_project_if_needed()` must have run first (the
definitions module does so before importing it).
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from .dbt_project import tessera_dbt_project
from .resources import Warehouse


class TesseraDbtTranslator(DagsterDbtTranslator):
    """Keys are `<schema>/<model>`, so a model reads as where it lives (`staging/stg_crm__contacts`); a dbt
    source is the loader asset that fills it (`raw/<table>`); groups are the dbt layers."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"]["schema"] or "main", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


@dbt_assets(
    manifest=tessera_dbt_project.manifest_path,
    project=tessera_dbt_project,
    dagster_dbt_translator=TesseraDbtTranslator(),
)
def tessera_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    """`dbt build`: runs the models and their tests in dependency order, into the loaders' warehouse."""
    with warehouse.exported_to_dbt():
        yield from dbt.cli(["build"], context=context).stream()
