"""What runs Tessera without a person: the jobs, a daily and an hourly schedule, the landing-folder sensor, and
freshness checks on sources and marts.

- `tessera_pipeline` (every asset) runs daily at `TESSERA_PIPELINE_CRON` (default 03:00 UTC), and whenever new
  landing files arrive (`new_landing_files`, every `TESSERA_SENSOR_SECONDS`, default 60): a run per new file
  set, and only then. A file is new when the load manifest (`raw._loads`) does not hold it, so starting the
  sensor on a warehouse `tessera run` already loaded launches nothing.
- `tessera_syncs` (the syncs group) runs hourly at `TESSERA_SYNCS_CRON`: the syncs re-send rejected rows and
  pick up what an earlier run built.
- A schedule whose job still has a run queued or in progress skips its tick, saying which run.
- Freshness: each loader asset fails its check when it was last loaded more than `TESSERA_SOURCE_FRESHNESS_HOURS`
  (26) ago, each mart when last built more than `TESSERA_MART_FRESHNESS_HOURS` (26) ago; a sensor evaluates them.

No `from __future__ import annotations` here: Dagster reads the decorated functions' annotations as real types.
"""

import hashlib
import json
import os
import warnings
from datetime import timedelta

import dagster as dg
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from .loading.landing import source_files
from .loading.warehouse import WarehouseBusy, read_only, table_exists
from .resources import LandingFolder, Warehouse
from .sources import SOURCES

PIPELINE_JOB, SYNCS_JOB = "tessera_pipeline", "tessera_syncs"
MART_PREFIXES = ("marts", "activation")

pipeline_job = dg.define_asset_job(
    PIPELINE_JOB,
    selection=dg.AssetSelection.all(),
    description="Load new landing files, build and test the dbt project, then run the syncs.",
)
syncs_job = dg.define_asset_job(
    SYNCS_JOB,
    selection=dg.AssetSelection.groups("syncs"),
    description="Run every reverse-ETL sync against what the warehouse holds now.",
)


def retry_policy() -> dg.RetryPolicy:
    """Loader and sync steps that fail for a passing reason (a locked warehouse, a destination down) are tried
    again: `TESSERA_STEP_RETRIES` times (2), after `TESSERA_STEP_RETRY_SECONDS` (30), doubling, with jitter."""
    return dg.RetryPolicy(
        max_retries=int(os.environ.get("TESSERA_STEP_RETRIES", "2")),
        delay=float(os.environ.get("TESSERA_STEP_RETRY_SECONDS", "30")),
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def in_flight(instance: dg.DagsterInstance, job_name: str) -> dg.SkipReason | None:
    """A reason to skip when a run of `job_name` is queued or in progress, else None."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=list(IN_PROGRESS_RUN_STATUSES)))
    if runs:
        return dg.SkipReason(f"run {runs[0].run_id} of {job_name} is still {runs[0].status.value.lower()}")
    return None


@dg.schedule(
    job=pipeline_job,
    cron_schedule=os.environ.get("TESSERA_PIPELINE_CRON", "0 3 * * *"),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The whole pipeline once a day, unless a run of it is still going.",
)
def daily_pipeline(context: dg.ScheduleEvaluationContext):
    return in_flight(context.instance, PIPELINE_JOB) or dg.RunRequest()


@dg.schedule(
    job=syncs_job,
    cron_schedule=os.environ.get("TESSERA_SYNCS_CRON", "0 * * * *"),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The reverse-ETL syncs every hour, unless a run of them is still going.",
)
def hourly_syncs(context: dg.ScheduleEvaluationContext):
    return in_flight(context.instance, SYNCS_JOB) or dg.RunRequest()


def loadable_files(landing: LandingFolder) -> dict[str, str]:
    """Every file the loaders would read, by its name under the landing folder -> size and modification time."""
    files = {}
    for source in SOURCES:
        for file in source_files(landing.resolved_path, source).files:
            stat = file.path.stat()
            files[file.name] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return files


def loaded_files(warehouse: Warehouse) -> set[str]:
    """The files `raw._loads` holds (none before the first load)."""
    path = warehouse.resolved_path
    if not path.is_file():
        return set()
    with read_only(path) as con:
        if not table_exists(con, "raw", "_loads"):
            return set()
        return {file for (file,) in con.execute("select file from raw._loads").fetchall()}


@dg.sensor(
    job=pipeline_job,
    minimum_interval_seconds=int(os.environ.get("TESSERA_SENSOR_SECONDS", "60")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts the pipeline when new (or rewritten) files arrive in the landing folder.",
)
def new_landing_files(context: dg.SensorEvaluationContext, landing: LandingFolder, warehouse: Warehouse):
    try:
        loaded = loaded_files(warehouse)
    except WarehouseBusy as busy:
        return dg.SkipReason(f"{busy} (looking again at the next tick)")
    files = {name: stamp for name, stamp in loadable_files(landing).items() if name not in loaded}
    seen = json.loads(context.cursor) if context.cursor else {}
    new = sorted(name for name, stamp in files.items() if seen.get(name) != stamp)
    if not new:
        return dg.SkipReason(f"no new files in {landing.resolved_path}")
    context.update_cursor(json.dumps(files, sort_keys=True))
    file_set = hashlib.sha256("\n".join(f"{name}={files[name]}" for name in new).encode()).hexdigest()[:16]
    context.log.info(f"{len(new)} new landing file(s), e.g. {', '.join(new[:3])}")
    return dg.RunRequest(run_key=file_set, tags={"tessera/new_files": str(len(new))})


def freshness_checks(source_keys: list[dg.AssetKey], mart_keys: list[dg.AssetKey]) -> list:
    """Last-update freshness checks for the loaders and the marts, and the sensor that evaluates them.

    Dagster 1.12 supersedes these with freshness policies, but those are in preview, off unless the instance
    enables them, and report health rather than fail a check: the checks are what the data team alerts on."""
    hours = {
        "sources": float(os.environ.get("TESSERA_SOURCE_FRESHNESS_HOURS", "26")),
        "marts": float(os.environ.get("TESSERA_MART_FRESHNESS_HOURS", "26")),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.SupersessionWarning)
        checks = [
            *dg.build_last_update_freshness_checks(
                assets=source_keys, lower_bound_delta=timedelta(hours=hours["sources"])
            ),
            *dg.build_last_update_freshness_checks(assets=mart_keys, lower_bound_delta=timedelta(hours=hours["marts"])),
        ]
        sensor = dg.build_sensor_for_freshness_checks(freshness_checks=checks, name="freshness_checks")
    return [*checks, sensor]
