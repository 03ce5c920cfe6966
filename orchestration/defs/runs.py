"""Runs whose process died are marked failed, so that nothing waits for them for ever.

A run's worker records its process id in the run's first event (`RUN_START`). A run that Dagster still holds as
started while that process is gone (killed, out of memory, the machine restarted) would stay STARTED for ever:
the run queue counts it against `max_concurrent_runs` and refuses to launch anything, and the schedules skip
their ticks waiting for it. `fail_dead_runs` marks each such run failed, saying why; `tessera run` calls it
before it starts, `tessera ui` when it starts the daemon, and the `dead_runs` sensor every minute.

A process id is only looked up on the machine that ran it: `tessera run` tags its runs with the host, and a run
launched by the daemon's default launcher runs on the daemon's machine.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

HOST_TAG = "tessera/host"
PID_TAG = "tessera/pid"
DEAD_RUNS_SENSOR_SECONDS = 60


def run_tags() -> dict[str, str]:
    """The tags of a run this process executes in-process: where it runs, and as which process."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def process_started_at(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
    except (OSError, StopIteration):
        return _exists(pid)
    ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime, in clock ticks since boot
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _exists(pid: int) -> float | None:
    """Without /proc: 0.0 when the process exists (its start unknown), else None."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return 0.0
    return 0.0


def run_process(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The process id of the run's worker, from its RUN_START event (None before it started)."""
    if PID_TAG in run.tags:
        return int(run.tags[PID_TAG])
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    if not records or records[0].event_log_entry.dagster_event is None:
        return None
    return records[0].event_log_entry.dagster_event.pid


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Marks failed every started run of this machine whose worker process is gone; their ids."""
    host, failed = socket.gethostname(), []
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for run in runs:
        if run.tags.get(HOST_TAG, host) != host:
            continue
        pid = run_process(instance, run)
        if pid is None:
            continue
        started = process_started_at(pid)
        record = instance.get_run_record_by_id(run.run_id)
        run_started = record.start_time if record is not None and record.start_time else None
        if started is not None and (run_started is None or started <= run_started + 1):
            continue  # the run's process is alive (not another process given the same id since)
        instance.report_run_failed(
            run,
            f"Run {run.run_id} was still marked started, but its process ({pid} on {host}) is gone: it was killed "
            "or died. Marked failed; what it had not finished runs again with the next run.",
        )
        failed.append(run.run_id)
    return failed


@contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a `kill`, a closed terminal) interrupt a run as Ctrl-C does, so that Dagster marks it
    failed and stops its dbt build, instead of the process vanishing with the run left started."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    for sig in previous:
        signal.signal(sig, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dg.sensor(
    minimum_interval_seconds=DEAD_RUNS_SENSOR_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed every run still held as started whose process is gone, so that the run queue "
    "and the schedules do not wait for it for ever.",
)
def dead_runs(context: dg.SensorEvaluationContext):
    failed = fail_dead_runs(context.instance)
    return dg.SkipReason(f"marked failed: {', '.join(failed)}" if failed else "no run whose process is gone")
