"""Loader throughput: rows/s and peak memory per source, on a generated landing folder.

    python benchmarks/loaders.py --customers 100000 --days 30

Generates the landing folder once (kept under --workdir for later runs), then loads each source into a fresh
warehouse in a child process of its own, so that each source's peak memory (max RSS) is its own; and, beside it
in the same run, reads the same files into a table with DuckDB's own reader (`read_csv`, `read_json`,
`read_parquet` over the source's files, types inferred: no contract, no quarantine, no line numbers), as the
yardstick; for JSONL also DuckDB doing the loader's job (`read_ndjson_objects`: the contract fields and each
line kept as the payload, `kept s`). Prints figures and the ratios; asserts nothing: speed is measured here,
never in the tests.
"""

from __future__ import annotations

import re
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


TIMING = re.compile(r"^\d+ ([0-9.e-]+)$", re.MULTILINE)  # a yardstick's `rows seconds` line
DUCKDB_READERS = {"csv": "read_csv", "jsonl": "read_json", "parquet": "read_parquet"}


def duckdb_one(landing: Path, warehouse: Path, source_name: str) -> None:
    """In the child: DuckDB's own reader over the same files; prints `rows seconds`."""
    from orchestration.loading.landing import source_files
    from orchestration.sources import SOURCES_BY_NAME
    from tessera.warehouse import connect

    source = SOURCES_BY_NAME[source_name]
    files = [str(file.path) for file in source_files(landing, source).files]
    con = connect(warehouse)
    started = time.perf_counter()
    reader = DUCKDB_READERS[source.format.value]
    options = ", ignore_errors = true" if reader != "read_parquet" else ""  # it skips bad rows, silently
    con.execute(f"create table copied as select * from {reader}(?{options})", [files])
    seconds = time.perf_counter() - started
    print(con.execute("select count(*) from copied").fetchone()[0], seconds)
    if source.format.value == "jsonl":  # the same job as the loader's: the contract fields and the line kept
        fields = ", ".join(f"json ->> '$.{column.path or column.name}' as {column.name}" for column in source.columns)
        started = time.perf_counter()
        con.execute(
            f"create table kept as select {fields}, json as payload from read_ndjson_objects(?, ignore_errors = true)",
            [files],
        )
        print(con.execute("select count(*) from kept").fetchone()[0], time.perf_counter() - started)
    con.close()


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    args = arguments(__doc__)
    landing = landing_folder(args)
    print(f"\nloading {landing} ({folder_bytes(landing) / 2**20:,.0f} MiB), one process per source\n")
    print(
        f"{'source':<20}{'MiB':>8}{'rows':>12}{'quarantined':>13}{'seconds':>10}{'rows/s':>12}{'peak MiB':>10}"
        f"{'DuckDB s':>10}{'ratio':>8}{'kept s':>8}{'ratio':>8}"
    )
    total_rows = total_seconds = total_duckdb = total_kept = 0.0
    for source in SOURCES:
        warehouse = args.workdir / f"bench-{source.name}.duckdb"
        warehouse.unlink(missing_ok=True)
        child = run_measured([sys.executable, __file__, "--child", str(landing), str(warehouse), source.name])
        rows, quarantined, seconds = child.output.split()
        warehouse.unlink(missing_ok=True)
        yardstick = run_measured([sys.executable, __file__, "--duckdb", str(landing), str(warehouse), source.name])
        [duckdb_seconds, *kept] = [float(found[1]) for found in TIMING.finditer(yardstick.output)]
        kept_seconds = kept[0] if kept else duckdb_seconds  # the payload kept: JSONL only
        total_duckdb += duckdb_seconds
        total_kept += kept_seconds
        rows_n, seconds_f = int(rows), float(seconds)
        total_rows += rows_n
        total_seconds += seconds_f
        size = folder_bytes(landing / source.name) / 2**20
        print(
            f"{source.name:<20}{size:>8,.0f}{rows_n:>12,}{int(quarantined):>13,}{seconds_f:>10.1f}"
            f"{rows_n / seconds_f:>12,.0f}{child.peak_mib:>10,.0f}{duckdb_seconds:>10.1f}"
            f"{seconds_f / duckdb_seconds:>7.1f}x{kept_seconds:>8.1f}{seconds_f / kept_seconds:>7.1f}x"
        )
        warehouse.unlink(missing_ok=True)
    rate = total_rows / total_seconds
    print(
        f"{'all sources':<20}{'':>8}{int(total_rows):>12,}{'':>13}{total_seconds:>10.1f}{rate:>12,.0f}{'':>10}"
        f"{total_duckdb:>10.1f}{total_seconds / total_duckdb:>7.1f}x"
        f"{total_kept:>8.1f}{total_seconds / total_kept:>7.1f}x"
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        load_one(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "--duckdb":
        duckdb_one(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
    else:
        main()
