"""What runs Tessera without a person: the jobs, their schedules, the landing-folder sensor, and freshness
checks on sources and marts, each built by a factory from the settings read when Dagster loads the definitions.

- `tessera_pipeline` (every asset) runs daily at `TESSERA_PIPELINE_CRON` (default 03:00 UTC), and whenever new
  landing files arrive (`new_landing_files`, every `TESSERA_SENSOR_SECONDS`, default 60): a run per new file
  set, and only then. A file is new when the load manifest (`raw._loads`) does not hold it, so starting the
  sensor on a warehouse `tessera run` already loaded launches nothing.
- The syncs run on their own definition's `schedule:`: a job and a schedule per distinct cron over the syncs
  that name it; `tessera_syncs` (every sync naming none, and the erasures) at `TESSERA_SYNCS_CRON`, hourly by
  default. Each run re-sends rejected rows and picks up what an earlier run built.
- `full_checks` runs the pipeline weekly at `TESSERA_FULL_CHECKS_CRON` (Sunday 04:00 UTC) with every data test
  over its whole table; the daily runs' tests on incremental models read only the rows each build wrote.
- A schedule whose job still has a run queued or in progress skips its tick, saying which run.
- Freshness: each loader asset fails its check when it was last loaded more than `TESSERA_SOURCE_FRESHNESS_HOURS`
  (26) ago, each mart when last built more than `TESSERA_MART_FRESHNESS_HOURS` (26) ago; a sensor evaluates them.

No `from __future__ import annotations` here: Dagster reads the decorated functions' annotations as real types.
"""

import hashlib
import json
import re
import warnings
from datetime import timedelta

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from reverse_etl.sync_files import SyncDefinition
from tessera.settings import Settings
from tessera.warehouse import WarehouseBusy, read_only, table_exists

from ..loading.landing import source_files
from ..sources import SOURCES
from .dbt_assets import FULL_CHECKS_TAG
from .resources import LandingFolder, Warehouse

PIPELINE_JOB, SYNCS_JOB = "tessera_pipeline", "tessera_syncs"
SYNCS_GROUP = "syncs"
MART_PREFIXES = ("marts", "activation")


def pipeline_job() -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="Load new landing files, build and test the dbt project, then run the syncs.",
    )


def retry_policy(settings: Settings) -> dg.RetryPolicy:
    """Loader and sync steps that fail for a passing reason (a locked warehouse, a destination down) are tried
    again: `TESSERA_STEP_RETRIES` times (2), after `TESSERA_STEP_RETRY_SECONDS` (30), doubling, with jitter."""
    return dg.RetryPolicy(
        max_retries=settings.step_retries,
        delay=settings.step_retry_seconds,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def in_flight(instance: dg.DagsterInstance, job_name: str) -> dg.SkipReason | None:
    """A reason to skip when a run of `job_name` is queued or in progress, else None."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=list(IN_PROGRESS_RUN_STATUSES)))
    if runs:
        return dg.SkipReason(f"run {runs[0].run_id} of {job_name} is still {runs[0].status.value.lower()}")
    return None


def daily_pipeline(settings: Settings, job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    cron = settings.pipeline_cron
    return _schedule(
        "daily_pipeline", job, cron, f"The whole pipeline at {cron} (UTC), unless a run of it is still going."
    )


def weekly_full_checks(settings: Settings, job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    """The pipeline with every data test over its whole table: what the daily runs' tests, which read the rows
    each build wrote, cannot see (a row no build touched, broken by a change elsewhere)."""
    cron = settings.full_checks_cron
    description = f"The whole pipeline with full-table checks at {cron} (UTC), unless a run of it is still going."
    return _schedule("full_checks", job, cron, description, tags={FULL_CHECKS_TAG: "true"})


def _schedule(
    name: str, job: UnresolvedAssetJobDefinition, cron: str, description: str, tags: dict[str, str] | None = None
) -> dg.ScheduleDefinition:
    """A schedule of `job` at `cron` (UTC) that skips its tick while a run of the job is queued or in progress;
    its runs carry `tags`."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def schedule(context: dg.ScheduleEvaluationContext):
        return in_flight(context.instance, job.name) or dg.RunRequest(tags=tags or {})

    return schedule


def sync_schedules(
    settings: Settings, syncs: list[SyncDefinition], keys: dict[str, dg.AssetKey], erasures: dg.AssetKey
) -> tuple[list[UnresolvedAssetJobDefinition], list[dg.ScheduleDefinition]]:
    """A job and a schedule per distinct cron of the syncs: `tessera_syncs` (with the erasures) for those that
    name no `schedule:`, at TESSERA_SYNCS_CRON; `tessera_syncs_<cron>` for each schedule a sync names."""
    by_cron: dict[str | None, list[SyncDefinition]] = {None: []}
    for sync in syncs:
        own = sync.schedule if sync.schedule and sync.schedule.split() != settings.syncs_cron.split() else None
        by_cron.setdefault(own, []).append(sync)
    jobs, schedules = [], []
    for cron, members in by_cron.items():
        name = SYNCS_JOB if cron is None else f"{SYNCS_JOB}_{cron_slug(cron)}"
        selected = [keys[sync.name] for sync in members] + ([erasures] if cron is None else [])
        names = ", ".join(sync.name for sync in members) or "none yet"
        job = dg.define_asset_job(
            name,
            selection=dg.AssetSelection.assets(*selected),
            description=f"The syncs {names}"
            + (", and the erasures of every sync" if cron is None else "")
            + ", against what the warehouse holds now.",
        )
        jobs.append(job)
        when = cron or settings.syncs_cron
        description = f"The syncs {names} at {when} (UTC), unless a run of them is still going."
        schedules.append(_schedule(f"{name.removeprefix('tessera_')}_schedule", job, when, description))
    return jobs, schedules


def cron_slug(cron: str) -> str:
    """A name for a cron schedule: `0 */6 * * *` -> `0_every6_x_x_x`."""
    words = (re.sub(r"[^0-9a-z]", "", w.replace("*/", "every").replace("*", "x").replace(",", "and").replace("-", "to"))
             for w in cron.lower().split())  # fmt: skip
    return "_".join(words)


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


def new_landing_files(settings: Settings, job: UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        job=job,
        minimum_interval_seconds=settings.sensor_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts the pipeline when new (or rewritten) files arrive in the landing folder.",
    )
    def new_landing_files(context: dg.SensorEvaluationContext, landing: LandingFolder, warehouse: Warehouse):
        return new_files_request(context, landing, warehouse)

    return new_landing_files


def new_files_request(context: dg.SensorEvaluationContext, landing: LandingFolder, warehouse: Warehouse):
    """A run request for the landing files the load manifest does not hold and the cursor has not seen."""
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


def freshness_checks(settings: Settings, source_keys: list[dg.AssetKey], mart_keys: list[dg.AssetKey]) -> list:
    """Last-update freshness checks for the loaders and the marts, and the sensor that evaluates them.

    Dagster 1.12 supersedes these with freshness policies, but those are in preview, off unless the instance
    enables them, and report health rather than fail a check: the checks are what the data team alerts on."""
    hours = {"sources": settings.source_freshness_hours, "marts": settings.mart_freshness_hours}
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
