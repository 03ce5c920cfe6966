"""Loader throughput: rows/s and peak memory per source, on a generated landing folder.

    python benchmarks/loaders.py --customers 100000 --days 30

Generates the landing folder once (kept under --workdir for later runs), then loads each source into a fresh
warehouse in a child process of its own, so that each source's peak memory (max RSS) is its own. Prints figures;
asserts nothing: speed is measured here, never in the tests.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestration.demo_data import generate  # noqa: E402
from orchestration.sources import SOURCES  # noqa: E402


def load_one(landing: Path, warehouse: Path, source_name: str) -> None:
    """In the child: load one source and print `rows quarantined seconds`."""
    from orchestration.loading.warehouse import connect, ensure_raw_tables, load_source
    from orchestration.sources import SOURCES_BY_NAME

    source = SOURCES_BY_NAME[source_name]
    con = connect(warehouse)
    ensure_raw_tables(con, [source])
    started = time.perf_counter()
    report = load_source(con, landing, source)
    seconds = time.perf_counter() - started
    con.close()
    print(report.rows, report.quarantined, seconds)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-bench"))
    args = parser.parse_args()

    landing = args.workdir / f"landing-{args.customers}x{args.days}-s{args.seed}"
    if not (landing / "_truth" / "identity.csv").exists():
        print(f"generating {args.customers:,} customers x {args.days} days into {landing} ...", flush=True)
        started = time.perf_counter()
        summary = generate(landing, args.customers, args.days, args.seed)
        seconds = time.perf_counter() - started
        records = sum(summary.records.values())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rate = records / seconds
        print(f"generated {records:,} records in {seconds:.1f}s ({rate:,.0f} records/s, peak {peak:.0f} MiB)")

    print(f"\nloading {landing} ({folder_bytes(landing) / 2**20:,.0f} MiB), one process per source\n")
    print(f"{'source':<20}{'MiB':>8}{'rows':>12}{'quarantined':>13}{'seconds':>10}{'rows/s':>12}{'peak MiB':>10}")
    total_rows = total_seconds = 0.0
    for source in SOURCES:
        warehouse = args.workdir / f"bench-{source.name}.duckdb"
        warehouse.unlink(missing_ok=True)
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", str(landing), str(warehouse), source.name],
            stdout=subprocess.PIPE,
            text=True,
        )
        output = child.stdout.read() if child.stdout else ""
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            raise SystemExit(f"loading {source.name} failed (status {status})")
        rows, quarantined, seconds = output.split()
        rows_n, seconds_f = int(rows), float(seconds)
        total_rows += rows_n
        total_seconds += seconds_f
        size = folder_bytes(landing / source.name) / 2**20
        print(
            f"{source.name:<20}{size:>8,.0f}{rows_n:>12,}{int(quarantined):>13,}{seconds_f:>10.1f}"
            f"{rows_n / seconds_f:>12,.0f}{usage.ru_maxrss / 1024:>10,.0f}"
        )
        warehouse.unlink(missing_ok=True)
    rate = total_rows / total_seconds
    print(f"{'all sources':<20}{'':>8}{int(total_rows):>12,}{'':>13}{total_seconds:>10.1f}{rate:>12,.0f}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        load_one(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
    else:
        main()
