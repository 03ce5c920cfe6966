"""Identity resolution at scale: dbt build time and memory, identity model times, clustering against scipy.

    python benchmarks/identity.py --customers 100000 --days 30

Generates the landing folder once (kept under --workdir). Loads all days but the last into a fresh warehouse
and runs `dbt build` in a child process; then loads the last day's files and builds again, as a daily run
would. Prints, for both builds: the whole build's time and peak memory and each identity model's time (from
dbt's run_results.json), and how much of the graph the daily build clustered again; then the identity scores,
and the clustering step (connected components in SQL over the whole graph, as the pipeline runs it: in the first
build, beside other models, and alone, clustering everything three times) against
scipy.sparse.csgraph.connected_components on the same edge list, in the same run, as a ratio.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
from common import arguments, landing_folder, run_measured, scipy_timed

from orchestration.identity_evaluation import evaluate_identity
from orchestration.loading.warehouse import ensure_raw_tables, load_source
from orchestration.sources import SOURCES
from tessera.warehouse import connect

DBT = str(Path(sys.executable).with_name("dbt"))


def dbt_build(warehouse: Path, target: str):
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    return run_measured([DBT, "build", "--profiles-dir", ".", "--target-path", target], env)


PASS = r"connected_components\(\S+edges\): [^\n]*converged in \d+ rounds, ([0-9.]+)s"


def first_pass(output: str) -> float:
    """The time of the first connected-components pass in a dbt run's output: the whole graph, before limits."""
    runs = re.findall(PASS, output)
    return float(runs[0]) if runs else float("nan")


def clustering_alone(warehouse: Path, target: str, repeats: int = 3) -> list[float]:
    """Clusters everything again, alone (`--full-refresh` of the clustering model, which gives what the daily
    run gave), `repeats` times: the first pass of each."""
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    command = [DBT, "run", "--full-refresh", "-s", "int_identity_nodes_clustered", "--profiles-dir", "."]
    return [first_pass(run_measured([*command, "--target-path", target], env).output) for _ in range(repeats)]


def scipy_components(warehouse: Path, repeats: int = 5) -> tuple[list[float], int, int]:
    """scipy on the same edges, `repeats` times: reading them out of the warehouse is not timed, building the
    matrix is. Its time varies by 2x from run to run on a shared machine, hence the repeats."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        edges = con.execute("select node_a, node_b from intermediate.int_identity_edges_linked").fetchnumpy()
    a, b = edges["node_a"].astype(np.int64), edges["node_b"].astype(np.int64)
    timings, labels = scipy_timed(a, b, repeats)
    nodes = np.unique(np.concatenate([a, b]))
    return timings, len(a), len(np.unique(labels[nodes]))


def main() -> None:
    args = arguments(__doc__)
    landing = landing_folder(args)
    warehouse = args.workdir / f"identity-{args.customers}x{args.days}.duckdb"
    warehouse.unlink(missing_ok=True)
    last_day = sorted((landing / "crm_contacts").iterdir())[-1].stem.split("_")[-1]
    earlier = args.workdir / "landing-all-but-last-day"
    shutil.rmtree(earlier, ignore_errors=True)
    for path in landing.rglob("*"):
        if path.is_file() and last_day not in path.name:
            (earlier / path.relative_to(landing)).parent.mkdir(parents=True, exist_ok=True)
            (earlier / path.relative_to(landing)).symlink_to(path)

    for label, folder in ((f"all days before {last_day}", earlier), (f"then {last_day} only", landing)):
        started = time.perf_counter()
        con = connect(warehouse)
        ensure_raw_tables(con)
        rows = sum(load_source(con, folder, source).rows for source in SOURCES)
        con.close()
        print(f"\n== {label}: loaded {rows:,} rows in {time.perf_counter() - started:.1f}s")
        target = str(args.workdir / "dbt-target")
        build = dbt_build(warehouse, target)
        print(
            f"dbt build (seeds, staging, identity, marts, all tests): {build.seconds:.1f}s, "
            f"peak memory {build.peak_mib:,.0f} MiB"
        )
        results = json.loads((Path(target) / "run_results.json").read_text())["results"]
        timings = {
            r["unique_id"].split(".")[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")
        }
        identity = {n: t for n, t in timings.items() if n.startswith(("int_", "customer_", "identity_"))}
        print(f"{'model':<36}{'seconds':>10}")
        for name, t in sorted(identity.items(), key=lambda item: -item[1]):
            print(f"{name:<36}{t:>10.2f}")
        print(f"{'identity models and marts':<36}{sum(identity.values()):>10.2f}")
        reclustered = re.search(r"recluster_identities: (\d+) of (\d+) nodes", build.output)
        if reclustered:
            print(f"clustered again: {int(reclustered[1]):,} of {int(reclustered[2]):,} nodes (the components touched)")
        else:
            in_build = first_pass(build.output)

    # The graph as the daily build left it, clustered whole: by SQL alone, and by scipy.
    alone = clustering_alone(warehouse, target)
    scipy_timings, edge_count, components = scipy_components(warehouse)
    sql_median, scipy_median = statistics.median(alone), statistics.median(scipy_timings)
    print(f"\nclustering {edge_count:,} edges into {components:,} components (before identity limits):")
    print(f"  SQL (connected_components, first pass), in the first build beside other models: {in_build:.3f}s")
    print(f"  SQL, clustering everything alone, {len(alone)} runs: median {sql_median:.3f}s, fastest {min(alone):.3f}s")
    print(
        f"  scipy.sparse.csgraph.connected_components (matrix build included), {len(scipy_timings)} runs: "
        f"median {scipy_median:.3f}s, fastest {min(scipy_timings):.3f}s"
    )
    print(
        f"  ratio SQL / scipy, median to median: {sql_median / scipy_median:.1f}x "
        f"(first build's pass: {in_build / scipy_median:.1f}x)"
    )

    scores = evaluate_identity(warehouse, landing / "_truth" / "identity.csv")
    print("\nidentity scores:\n" + scores.render())


if __name__ == "__main__":
    main()
