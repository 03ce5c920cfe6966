"""What a day costs: the first build of N customers x D days, the next day's build, a rebuild with no new files,
and a day on which only one source delivered.

    python benchmarks/daily_run.py --customers 100000 --days 30

Generates D + 2 days once (kept under --workdir), lands the first D days in a fresh landing folder and warehouse
and runs the pipeline (`tessera run`'s `run_pipeline`, in a child process of its own), then lands day D + 1 and
runs it again, then runs once more with nothing new, then lands day D + 2 of the consent decisions alone (the
other sources' models are left unchanged). For each run it prints the wall time, the child's peak memory
(max RSS), and from dbt's run_results.json the dbt invocation's own wall time and the time of the models and of
the tests (summed over the nodes, which two threads run at once), each against the first build; then the
models and tests that cost the next day most. Asserts nothing: speed is measured here, never in the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path

from common import ROOT, arguments, landing_folder, run_measured

RUN_ONE = """
import sys
from pathlib import Path
from orchestration.defs.pipeline import run_pipeline
summary = run_pipeline(Path(sys.argv[1]), Path(sys.argv[2]), home=Path(sys.argv[3]))
print(summary.render())
raise SystemExit(0 if summary.succeeded else 1)
"""


ONE_SOURCE = "consent_events"


def land(generated: Path, landing: Path, day: int, only: str | None = None) -> None:
    """Copies the generated files of day `day` (1-based: the day-th date of each source's files) into `landing`;
    of the source `only`, when given."""
    for source in sorted(path for path in generated.iterdir() if path.is_dir() and not path.name.startswith("_")):
        if only and source.name != only:
            continue
        files = sorted(source.iterdir())
        if day <= len(files):
            (landing / source.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(files[day - 1], landing / source.name / files[day - 1].name)


def run_results_since(started_at: float) -> tuple[list[dict], float]:
    """The results of the dbt invocations written after `started_at` (dagster-dbt gives each its own target), and
    the invocations' own wall time (dbt's `elapsed_time`: its two threads at work at once, so less than the sum
    of the nodes' times)."""
    results, elapsed = [], 0.0
    for path in (ROOT / "target").rglob("run_results.json"):
        if path.stat().st_mtime >= started_at:
            written = json.loads(path.read_text())
            results += written["results"]
            elapsed += written["elapsed_time"]
    return results, elapsed


def seconds_of(results: list[dict], kind: str) -> float:
    return sum(result["execution_time"] for result in results if result["unique_id"].split(".")[0] == kind)


def main(args: Namespace) -> None:
    generated = landing_folder(Namespace(**{**vars(args), "days": args.days + 2}))
    work = Path(tempfile.mkdtemp(prefix="daily-run-", dir=args.workdir))
    landing, warehouse, home = work / "landing", work / "warehouse.duckdb", work / "dagster"
    home.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows = []
    by_node = {}
    runs = [
        ("first build", range(1, args.days + 1), None),
        ("next day", [args.days + 1], None),
        ("no new files", [], None),
        ("nothing again", [], None),
        ("one source", [args.days + 2], ONE_SOURCE),
    ]
    for label, days, only in runs:
        for day in days:
            land(generated, landing, day, only)
        started_at = time.time()
        measured = run_measured([sys.executable, "-c", RUN_ONE, str(warehouse), str(landing), str(home)], env)
        results, dbt_seconds = run_results_since(started_at)
        models, tests = seconds_of(results, "model"), seconds_of(results, "test")
        rows.append((label, measured.seconds, measured.peak_mib, dbt_seconds, models, tests))
        by_node[label] = results
        said = [line.strip() for line in measured.output.splitlines() if "models built" in line or "erased:" in line]
        print(f"{label}: {measured.seconds:.1f}s; {'; '.join(said)}", flush=True)

    first = rows[0]
    print(f"\n{args.customers:,} customers x {args.days} days, a day more, nothing new, a day of {ONE_SOURCE}\n")
    columns = ["wall s", "x first", "dbt s", "x first", "models s", "x first", "tests s", "x first", "peak MiB"]
    print(f"{'run':<14}" + "".join(f"{column:>10}" for column in columns))
    for label, seconds, peak, *timed in rows:
        figures = [seconds, *timed]
        ratios = [figure / base if base else 0.0 for figure, base in zip(figures, [first[1], *first[3:]], strict=True)]
        print(
            f"{label:<14}"
            + "".join(f"{figure:>10.1f}{ratio:>10.2f}" for figure, ratio in zip(figures, ratios, strict=True))
            + f"{peak:>10.0f}"
        )
    for label in ("next day", "one source"):
        print(f"\ncostliest in '{label}':")
        costliest = sorted(by_node[label], key=lambda result: -result["execution_time"])[:12]
        for result in costliest:
            print(f"  {result['execution_time']:>7.2f}s  {result['unique_id']}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(arguments(__doc__))
