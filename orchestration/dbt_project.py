"""The dbt project that Tessera builds, and its manifest, which the Dagster definitions are made from.

Kept apart from the dbt assets: they read the manifest when imported, so it has to be written before.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from .settings import PROJECT_DIR

tessera_dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
# The dbt installed beside this Python (an un-activated virtual environment works too), through the launcher that
# ends it with its parent (`dbt_child.py`).
DBT_EXECUTABLE = str(Path(sys.executable).with_name("tessera-dbt"))


def dbt_cli_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=tessera_dbt_project, dbt_executable=DBT_EXECUTABLE)


def prepare_dbt_project() -> None:
    """Parses the dbt project into `target/manifest.json`, which the definitions are built from."""
    dbt_cli_resource().cli(["parse", "--quiet"], target_path=tessera_dbt_project.target_path).wait()


_prepared: list = []  # the segments compiled by this process's first preparation


def prepare_dbt_project_if_needed(known_events: dict[str, set[str]] | None = None):
    """Compiles the segments and the syncs' exposures, then parses unless the manifest is newer than every file
    of the dbt project (a parse costs seconds); once per process. A broken segment is left out (the compiled
    segments' `problems` say why; `known_events` also checks their event names); invalid syncs raise
    SyncDefinitionError."""
    from reverse_etl.engine import load_syncs
    from reverse_etl.exposures import write_exposures

    from .segments.compile import compile_segments

    if _prepared:
        return _prepared[0]
    compiled = compile_segments(known_events=known_events, strict=False)
    write_exposures(load_syncs())
    if not _manifest_is_fresh():
        prepare_dbt_project()
    _prepared.append(compiled)
    return compiled


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
