"""The one step that writes what the dbt project is built from: `prepare()`. Importing a module never does it;
every entry point that builds calls it first (`tessera run`, `ui`, `docs`, `segments compile`, `prepare`, and
Dagster's code location `orchestration.definitions` when Dagster loads it):

1. the syncs (`TESSERA_SYNCS_DIR`) are read and validated, each destination's settings by its own model: a sync
   missing its `list_id` fails here, in a second, naming the file and the field (`SyncDefinitionError`);
2. the declared segments are compiled (`models/segments/declared/`, `macros/segments/segment_models.sql`); a
   broken one is left out, with its problem, and the others are compiled as usual;
3. a dbt exposure per sync (`models/activation/_syncs__exposures.yml`), so dbt docs show where each activation
   model goes;
4. `dbt parse` into `target/manifest.json`, which the Dagster definitions are made from, unless the manifest is
   newer than every file of the dbt project (a parse costs seconds).

Files are written only when their content changes, so an unchanged project is not parsed again. All of them are
generated and git-ignored: two analysts adding a segment each never conflict on them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from reverse_etl.engine import load_syncs
from reverse_etl.sync_files import SyncDefinition
from tessera.settings import MANIFEST, PROJECT_DIR, consent_purposes, settings
from tessera.warehouse import WarehouseBusy, read_only, table_exists

from .segments.compile import CompiledSegments, compile_segments, write_if_changed

EXPOSURES_FILE = Path("models") / "activation" / "_syncs__exposures.yml"
EXPOSURES_NOTICE = "# Generated from the sync definitions by `tessera prepare`: edit the syncs, not this file.\n"
# The dbt installed beside this Python (an un-activated virtual environment works too), through the launcher that
# ends it with its parent (`dbt_child.py`).
DBT_EXECUTABLE = str(Path(sys.executable).with_name("tessera-dbt"))
DBT_INPUTS = ("models", "macros", "seeds", "tests/dbt", "analyses")


class PrepareFailed(RuntimeError):
    """`dbt parse` failed: the dbt project itself is broken (the message holds dbt's own words)."""


@dataclass(frozen=True)
class Prepared:
    syncs: list[SyncDefinition]
    segments: CompiledSegments
    parsed: bool  # whether dbt parsed the project again (False: the manifest was up to date)


def project_syncs(folder: Path | None = None) -> list[SyncDefinition]:
    """The project's syncs (`TESSERA_SYNCS_DIR`, or `folder`), validated against the consent purposes the dbt
    project declares; raises SyncDefinitionError listing every problem."""
    return load_syncs(folder or settings().syncs_dir, purposes=consent_purposes())


def prepare(known_events: dict[str, set[str]] | None = None, project_dir: Path = PROJECT_DIR) -> Prepared:
    """Validates the syncs, compiles the segments, writes the exposures, and parses when anything changed.
    `known_events` (see `known_events`) also checks the segments' event names."""
    syncs = project_syncs()
    compiled = compile_segments(project_dir, known_events=known_events, strict=False)
    write_exposures(syncs, project_dir)
    parsed = not manifest_is_fresh(project_dir)
    if parsed:
        parse(project_dir)
    return Prepared(syncs, compiled, parsed)


def parse(project_dir: Path = PROJECT_DIR) -> None:
    command = [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(project_dir),
               "--profiles-dir", str(project_dir), "--target-path", str(MANIFEST.parent)]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=project_dir, env={**os.environ, **dbt_variables()}
    )
    if done.returncode != 0:
        raise PrepareFailed(f"dbt parse failed:\n{(done.stdout + done.stderr)[-3000:]}")


def dbt_variables(warehouse: Path | None = None) -> dict[str, str]:
    """What dbt reads from the environment (profiles.yml: the warehouse, the target, the memory limit), from the
    settings, so that profiles.yml's own fall-backs (for a plain `dbt build`) never decide for Tessera."""
    current = settings()
    return {
        "TESSERA_WAREHOUSE": str(warehouse or current.warehouse),
        "TESSERA_DBT_TARGET": current.dbt_target,
        "TESSERA_DUCKDB_MEMORY_LIMIT": current.duckdb_memory_limit,
    }


def dbt_input_files(project_dir: Path = PROJECT_DIR) -> list[Path]:
    """Every file of the project that dbt reads, generated ones included, in path order."""
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in DBT_INPUTS:
        files.extend(path for path in (project_dir / folder).rglob("*") if path.is_file())
    return sorted(path for path in files if path.exists())


def manifest_is_fresh(project_dir: Path = PROJECT_DIR) -> bool:
    if not MANIFEST.exists():
        return False
    built = MANIFEST.stat().st_mtime
    return all(path.stat().st_mtime < built for path in dbt_input_files(project_dir))


def known_events(warehouse: Path) -> dict[str, set[str]] | None:
    """The event types marts.customer_events holds, by source; None before the first build (or while a build
    holds the warehouse), when segments' event names cannot be checked."""
    if not warehouse.is_file():
        return None
    try:
        con = read_only(warehouse)
    except WarehouseBusy:
        return None
    with con:
        if not table_exists(con, "marts", "customer_events"):
            return None
        rows = con.execute("select source, list(distinct event_type) from marts.customer_events group by 1").fetchall()
    return {source: set(types) for source, types in rows}


def schemas() -> dict[str, dict]:
    """The JSON Schemas of the files people write, by file name under docs/schemas/ (`tessera schemas`)."""
    from reverse_etl.destinations import DESTINATIONS
    from reverse_etl.sync_files import json_schema as sync_schema

    from .segments.declarations import json_schema as segment_schema

    return {
        "syncs.schema.json": sync_schema({name: cls.settings_model for name, cls in DESTINATIONS.items()}),
        "segments.schema.json": segment_schema(),
    }


def write_exposures(syncs: list[SyncDefinition], project_dir: Path = PROJECT_DIR) -> bool:
    """A dbt exposure per sync: which destination each activation model feeds, in which mode, under which
    consent, and when."""
    default_schedule = settings().syncs_cron
    exposures = [
        {
            "name": sync.name,
            "label": f"{sync.name} ({sync.destination_type}, {sync.mode})",
            "type": "application",
            "owner": {"name": "Tessera reverse ETL"},
            "description": (
                f"Syncs activation.{sync.model}{f' where {sync.where}' if sync.where else ''} to "
                f"{sync.destination_type} in {sync.mode} mode, keyed by {sync.primary_key}; only rows with "
                f"{' and '.join(f'consent_{purpose}' for purpose in sync.consents)} that are not suppressed. "
                f"Defined in {sync.defined_in.name}."
            ),
            "depends_on": [f"ref('{sync.model}')"],
            "config": {
                "meta": {
                    "destination": sync.destination_type,
                    "mode": sync.mode,
                    "consent_purpose": ", ".join(sync.consents),
                    "fields": [mapping.target for mapping in sync.mapping],
                    "schedule": sync.schedule or f"{default_schedule} (TESSERA_SYNCS_CRON)",
                }
            },
        }
        for sync in syncs
    ]
    body = yaml.safe_dump({"version": 2, "exposures": exposures}, sort_keys=False, allow_unicode=True, width=110)
    return write_if_changed(project_dir / EXPOSURES_FILE, EXPOSURES_NOTICE + body)
