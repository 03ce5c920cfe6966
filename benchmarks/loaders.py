"""Loader throughput: rows/s and peak memory per source, on a generated landing folder.

    python benchmarks/loaders.py --customers 100000 --days 30

Generates the landing folder once (kept under --workdir for later runs), then loads each source into a fresh
warehouse in a child process of its own, so that each source's peak memory (max RSS) is its own. Prints figures;
asserts nothing: speed is measured here, never in the tests.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from common import arguments, landing_folder, run_measured

from orchestration.sources import SOURCES


def load_one(landing: Path, warehouse: Path, source_name: str) -> None:
    """In the child: load one source and print `rows quarantined seconds`."""
    from orchestration.loading.warehouse import ensure_raw_tables, load_source
    from orchestration.sources import SOURCES_BY_NAME
    from tessera.warehouse import connect

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
    args = arguments(__doc__)
    landing = landing_folder(args)
    print(f"\nloading {landing} ({folder_bytes(landing) / 2**20:,.0f} MiB), one process per source\n")
    print(f"{'source':<20}{'MiB':>8}{'rows':>12}{'quarantined':>13}{'seconds':>10}{'rows/s':>12}{'peak MiB':>10}")
    total_rows = total_seconds = 0.0
    for source in SOURCES:
        warehouse = args.workdir / f"bench-{source.name}.duckdb"
        warehouse.unlink(missing_ok=True)
        child = run_measured([sys.executable, __file__, "--child", str(landing), str(warehouse), source.name])
        rows, quarantined, seconds = child.output.split()
        rows_n, seconds_f = int(rows), float(seconds)
        total_rows += rows_n
        total_seconds += seconds_f
        size = folder_bytes(landing / source.name) / 2**20
        print(
            f"{source.name:<20}{size:>8,.0f}{rows_n:>12,}{int(quarantined):>13,}{seconds_f:>10.1f}"
            f"{rows_n / seconds_f:>12,.0f}{child.peak_mib:>10,.0f}"
        )
        warehouse.unlink(missing_ok=True)
    rate = total_rows / total_seconds
    print(f"{'all sources':<20}{'':>8}{int(total_rows):>12,}{'':>13}{total_seconds:>10.1f}{rate:>12,.0f}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        load_one(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
    else:
        main()
