"""One run of the whole pipeline, in-process through Dagster, and its summary for a person at a terminal.

`run_pipeline` loads new landing files, builds and tests the dbt project and runs the syncs, then reads the run's
events back into a `RunSummary`: files loaded and skipped, rows, rows quarantined, models built (and left
unchanged, since nothing they read changed), tests passed and
failed, rows each sync sent, and every failure by name, so `tessera run` can print it and exit non-zero when
anything failed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import dagster as dg

from tessera.settings import PROJECT_DIR

from ..loading.landing import outside_sources
from ..prepare import known_events, prepare
from ..sources import SOURCES
from ..terminal import table, text
from . import definitions
from .dbt_assets import FULL_CHECKS_TAG, UNCHANGED
from .instance import project_instance
from .resources import LandingFolder, Warehouse
from .runs import fail_dead_runs, interrupted_by_signals, run_tags
from .sync_assets import FAILED_SYNCS

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

RUN_LOG = PROJECT_DIR / "logs" / "tessera_run.log"


@dataclass
class SourceSummary:
    source: str
    files_loaded: int = 0
    files_skipped: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0


@dataclass
class SyncSummary:
    sync: str
    metadata: dict[str, int | float]


@dataclass
class RunSummary:
    warehouse: Path
    landing: Path
    sources: dict[str, SourceSummary] = field(default_factory=dict)
    models_built: list[str] = field(default_factory=list)
    models_unchanged: list[str] = field(default_factory=list)  # left alone: nothing they read changed
    syncs: list[SyncSummary] = field(default_factory=list)
    erasures: dict[str, int | list] = field(default_factory=dict)  # the privacy path's metadata
    checks_passed: int = 0
    checks_warned: list[str] = field(default_factory=list)
    checks_failed: int = 0
    failures: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)  # landing files not loaded, each with why
    not_run: list[str] = field(default_factory=list)  # steps skipped because something upstream failed
    seconds: float = 0.0
    log: Path | None = None

    @property
    def succeeded(self) -> bool:
        return not self.failures

    def render(self) -> str:
        lines = [f"Tessera run: {'succeeded' if self.succeeded else 'FAILED'} in {self.seconds:.1f}s"]
        lines.append(f"  landing folder: {self.landing}")
        lines.append(f"  warehouse:      {self.warehouse}")
        lines.append("")
        loads = table("source", "files loaded", "skipped", "rows", "quarantined", right=range(1, 5))
        totals = self.sources.values()
        for source in totals:
            loads.add_row(source.source, str(source.files_loaded), str(source.files_skipped),
                          f"{source.rows_loaded:,}", f"{source.rows_quarantined:,}")  # fmt: skip
        loads.add_section()
        files = (sum(s.files_loaded for s in totals), sum(s.files_skipped for s in totals))
        rows = (sum(s.rows_loaded for s in totals), sum(s.rows_quarantined for s in totals))
        loads.add_row("total", *map(str, files), *(f"{n:,}" for n in rows))
        lines.append(text(loads, indent=2))
        lines.append("")
        unchanged = f" ({len(self.models_unchanged)} unchanged, not built again)" if self.models_unchanged else ""
        lines.append(f"  dbt models built: {len(self.models_built)}{unchanged}")
        lines.append(
            f"  checks: {self.checks_passed} passed, {len(self.checks_warned)} warned, {self.checks_failed} failed"
        )
        for sync in self.syncs:
            counts = ", ".join(
                f"{sync.metadata.get(name, 0):,} {name}" for name in ("planned", "accepted", "rejected", "skipped")
            )
            lines.append(f"  sync {sync.sync}: {counts}")
        if self.erasures:
            lines.append(
                f"  erasures: {self.erasures.get('erased', 0):,} delivered this run, "
                f"{self.erasures.get('pending', 0):,} waiting for a destination (tessera privacy)"
            )
        if any(s.rows_quarantined for s in totals):
            lines.append("  quarantined rows, with file, line and reason: select * from raw._quarantine")
        if self.left_alone:
            lines.append(f"  left alone in the landing folder ({len(self.left_alone)}):")
            lines.extend(f"    {note}" for note in self.left_alone)
        for notice in self.notices:
            lines.append(f"  note: {notice}")
        for warning in self.checks_warned:
            lines.append(f"  warning: {warning}")
        for failure in self.failures:
            lines.append(f"  FAILED: {failure}")
        if self.not_run:
            lines.append(f"  not run, downstream of a failure: {', '.join(self.not_run)}")
        if self.failures and self.log:
            lines.append(f"  dbt's full log: {self.log}")
        return "\n".join(lines)


def run_pipeline(
    warehouse: Path, landing: Path, verbose: bool = False, home: Path | None = None, full_checks: bool = False
) -> RunSummary:
    """Prepares the project, runs the pipeline job once against `warehouse` and `landing`, and summarises what it
    did. `home`: the Dagster instance's folder the run is recorded in (default: `instance.dagster_home()`).
    `full_checks`: every data test reads its whole table, not only the rows the build wrote."""
    started = time.monotonic()
    summary = RunSummary(warehouse=warehouse, landing=landing)
    if not landing.is_dir():
        summary.notices.append(f"the landing folder {landing} does not exist: nothing to load")
    summary.left_alone += outside_sources(landing)

    prepared = prepare(known_events=known_events(warehouse))
    summary.failures += [f"segment left out: {problem}" for problem in prepared.segments.problems]
    summary.notices += [f"segment: {warning}" for warning in prepared.segments.warnings]
    job = definitions().resolve_job_def("tessera_pipeline")
    RUN_LOG.parent.mkdir(parents=True, exist_ok=True)
    with RUN_LOG.open("w", encoding="utf-8") as log, _quiet(log, not verbose), project_instance(home) as instance:
        summary.notices += [
            f"run {run_id} had died without ending: marked failed" for run_id in fail_dead_runs(instance)
        ]
        with interrupted_by_signals():
            result = job.execute_in_process(
                instance=instance,
                resources={"warehouse": Warehouse(path=str(warehouse)), "landing": LandingFolder(path=str(landing))},
                run_config={"loggers": {"console": {"config": {"log_level": "INFO" if verbose else "CRITICAL"}}}},
                tags={**run_tags(), **({FULL_CHECKS_TAG: "true"} if full_checks else {})},
                raise_on_error=False,
            )
    _read_events(result, summary)
    summary.log = RUN_LOG
    summary.seconds = time.monotonic() - started
    return summary


@contextmanager
def _quiet(log: TextIO, enabled: bool) -> Iterator[None]:
    """dagster-dbt echoes dbt's whole log on stdout: keep it in the run log instead, unless asked to show it."""
    if not enabled:
        yield
        return
    with redirect_stdout(log):
        yield


def _read_events(result: dg.ExecuteInProcessResult, summary: RunSummary) -> None:
    for source in SOURCES:
        summary.sources[source.name] = SourceSummary(source.name)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        key = materialization.asset_key.path
        if key[0] == "raw" and key[1] in summary.sources:
            metadata = {name: value.value for name, value in materialization.metadata.items()}
            summary.sources[key[1]] = SourceSummary(
                key[1],
                files_loaded=metadata.get("files_loaded", 0),
                files_skipped=metadata.get("files_skipped", 0),
                rows_loaded=metadata.get("rows_loaded", 0),
                rows_quarantined=metadata.get("rows_quarantined", 0),
            )
            summary.left_alone += metadata.get("left_alone", [])
        elif key == ["raw", "_erasures"]:
            metadata = {name: value.value for name, value in materialization.metadata.items()}
            if metadata.get("customers"):
                summary.notices.append(
                    f"erased: {metadata['customers']} customer(s)' records removed from the warehouse and the "
                    f"landing files ({metadata['rows_removed']:,} rows)"
                )
        elif key == ["reverse_etl", "erasures"]:
            metadata = {name: value.value for name, value in materialization.metadata.items()}
            summary.erasures = metadata
            summary.notices.extend(f"erasures not delivered: {failed}" for failed in metadata.get("failed_syncs", []))
        elif key[0] == "reverse_etl":
            metadata = {name: value.value for name, value in materialization.metadata.items()}
            summary.syncs.append(SyncSummary(key[1], metadata))
        elif UNCHANGED in materialization.metadata:
            summary.models_unchanged.append("/".join(key))
        else:
            summary.models_built.append("/".join(key))
    for evaluation in result.get_asset_check_evaluations():
        name = f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}"
        if evaluation.passed:
            summary.checks_passed += 1
        elif evaluation.severity == dg.AssetCheckSeverity.WARN:
            summary.checks_warned.append(name)
        else:
            summary.checks_failed += 1
            detail = evaluation.description or _failing_rows(evaluation)
            summary.failures.append(f"{name}{f' ({detail})' if detail else ''}")
    started = {event.step_key for event in result.all_events if event.is_step_start}
    if summary.failures or any(event.is_step_failure for event in result.all_events):
        steps = [node.name for node in result.job_def.nodes_in_topological_order]
        summary.not_run = [step for step in steps if step not in started]
    for event in result.all_events:
        if event.is_step_failure:
            failure = event.step_failure_data
            failed_syncs = failure.user_failure_data and failure.user_failure_data.metadata.get(FAILED_SYNCS)
            if failed_syncs:  # a line per sync, named
                summary.failures.extend(f"sync {name}: {error}" for name, error in failed_syncs.value.items())
                continue
            summary.failures.extend(f"{event.step_key}: {reason}" for reason in _step_failure_reasons(failure.error))


DBT_ERRORS_HEADING = "Errors parsed from dbt logs:"
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _step_failure_reasons(error: SerializableErrorInfo | None) -> list[str]:
    """What went wrong, in a line each: dbt's own error lines (which test or model failed) where there are any."""
    if error is None:
        return ["failed, for a reason Dagster did not record"]
    message = ANSI_COLOUR.sub("", error.message)
    if DBT_ERRORS_HEADING in message:
        details = message.split(DBT_ERRORS_HEADING, 1)[1]
        return [" ".join(part.split()) for part in details.split("\n\n") if part.strip()]
    return [message.strip().splitlines()[0]]


def _failing_rows(evaluation: dg.AssetCheckEvaluation) -> str:
    failures = evaluation.metadata.get("dagster_dbt/failed_row_count")
    return f"{failures.value} failing row(s)" if failures is not None else ""
