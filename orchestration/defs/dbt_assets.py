"""The dbt project as Dagster assets: every model downstream of the loaders it reads, dbt tests as asset checks.

`dbt_models()` reads the manifest that `orchestration.prepare.prepare()` wrote; importing this module reads
nothing.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from tessera.settings import MANIFEST, PROJECT_DIR

from ..loading.warehouse import mark_retractions_rebuilt, retractions_pending_rebuild
from ..prepare import DBT_EXECUTABLE
from .resources import DEFAULT_OWNER, Warehouse

# A run with this tag set to "true" runs every data test over its whole table, not only the rows it wrote.
FULL_CHECKS_TAG = "tessera/full_checks"

# The asset groups, by layer, in the order data flows: the dbt folder (fqn after the project) decides.
LAYERS: list[tuple[tuple[str, ...], str]] = [
    (("staging",), "staging"),
    (("intermediate", "identity"), "identity"),
    (("intermediate", "segments"), "segments"),
    (("marts", "segments"), "segments"),
    (("segments",), "segments"),
    (("intermediate",), "profiles"),  # traits, consent, privacy
    (("marts",), "profiles"),  # the customer 360, consent and privacy marts
    (("activation",), "activation"),
]


def layer_of(dbt_resource_props: Mapping[str, Any]) -> str:
    """The group of a dbt model by its folder; seeds (reference data the staging models join) are staging."""
    path = tuple(dbt_resource_props.get("fqn", [])[1:-1])
    return next((group for prefix, group in LAYERS if path[: len(prefix)] == prefix), "staging")


class TesseraDbtTranslator(DagsterDbtTranslator):
    """Keys are `<schema>/<model>`, so a model reads as where it lives (`staging/stg_crm__contacts`); a dbt
    source is the loader asset that fills it (`raw/<table>`); groups are the layers (LAYERS); owners are the
    model's `meta.owner` (a segment's `meta.segment.owner`), else the data team."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"]["schema"] or "main", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return layer_of(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        meta = {**dbt_resource_props.get("meta", {}), **dbt_resource_props.get("config", {}).get("meta", {})}
        owner = meta.get("owner") or (meta.get("segment") or {}).get("owner") or DEFAULT_OWNER
        return [owner]


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)  # its target/ holds MANIFEST


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=DBT_EXECUTABLE)


def dbt_models() -> dg.AssetsDefinition:
    """The dbt assets, from the prepared manifest."""

    @dbt_assets(manifest=MANIFEST, project=dbt_project(), dagster_dbt_translator=TesseraDbtTranslator())
    def tessera_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        yield from build(context, dbt, warehouse)

    return tessera_dbt_models


def build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    """`dbt build`: runs the models and their data tests in dependency order, into the loaders' warehouse.

    The tests on incremental models read the rows the build wrote (macros/tests/scoped_tests.sql); a run tagged
    FULL_CHECKS_TAG (`tessera run --full-checks`, the weekly schedule) reads whole tables. Unit tests check the
    SQL, not the data: the test suite runs them, not every build. After a file was retracted (`tessera files
    retract`), the build is a full refresh, so that nothing built from the file's rows is left (customer ids and
    node numbers survive it)."""
    with warehouse.connect() as con:
        retracted = retractions_pending_rebuild(con)
    arguments = ["build", "--exclude-resource-type", "unit_test"]
    if retracted:
        arguments.append("--full-refresh")
        context.log.info(f"{retracted} file(s) retracted since the last build: rebuilding with --full-refresh")
    if context.run.tags.get(FULL_CHECKS_TAG) == "true":
        arguments += ["--vars", '{"full_checks": true}']
        context.log.info("full checks: every data test reads its whole table")
    with warehouse.exported_to_dbt():
        yield from dbt.cli(arguments, context=context).stream()
    if retracted:
        with warehouse.connect() as con:
            mark_retractions_rebuilt(con)
