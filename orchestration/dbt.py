"""The dbt project as Dagster assets: every model downstream of the loaders it reads, dbt tests as asset checks.

The manifest is read when the definitions load, so it must exist first: `prepare_dbt_project()` writes it. The
`tessera` command calls it before loading the definitions; under `dagster dev`, or where there is no manifest
yet, the definitions call it themselves.
"""

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from .resources import Warehouse
from .settings import PROJECT_DIR

tessera_dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
# The dbt installed beside this Python, so that an un-activated virtual environment works too.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


def dbt_cli_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=tessera_dbt_project, dbt_executable=DBT_EXECUTABLE)


def prepare_dbt_project() -> None:
    """Parses the dbt project into `target/manifest.json`, which the definitions are built from."""
    dbt_cli_resource().cli(["parse", "--quiet"], target_path=tessera_dbt_project.target_path).wait()


def prepare_dbt_project_if_needed() -> None:
    """Parses unless the manifest is newer than every file of the dbt project (a parse costs seconds)."""
    if not _manifest_is_fresh():
        prepare_dbt_project()


def _manifest_is_fresh() -> bool:
    manifest = tessera_dbt_project.manifest_path
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    project = tessera_dbt_project.project_dir
    inputs = [project / "dbt_project.yml", project / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "tests/dbt", "analyses"):
        inputs.extend(path for path in (project / folder).rglob("*") if path.is_file())
    return all(path.stat().st_mtime < built for path in inputs if path.exists())


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
