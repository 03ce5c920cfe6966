"""Identity resolution at scale: dbt build time and memory, identity model times, clustering against scipy.

    python benchmarks/identity.py --customers 100000 --days 30

Generates the landing folder once (kept under --workdir), loads it into a fresh warehouse, then runs
`dbt build` in a child process and prints: the whole build's time and peak memory, each identity model's time
(from dbt's run_results.json), the identity scores, and the clustering step (connected components in SQL, as
the pipeline runs it) against scipy.sparse.csgraph.connected_components on the same edge list, in the same run,
as a ratio. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestration.demo_data import generate  # noqa: E402
from orchestration.identity_evaluation import evaluate_identity  # noqa: E402
from orchestration.loading.warehouse import connect, ensure_raw_tables, load_source  # noqa: E402
from orchestration.sources import SOURCES  # noqa: E402

DBT = str(Path(sys.executable).with_name("dbt"))


def dbt(args: list[str], warehouse: Path, target: str) -> tuple[str, float, float]:
    """Runs dbt in a child process; returns its output, seconds and peak memory (MiB)."""
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    started = time.perf_counter()
    child = subprocess.Popen(
        [DBT, *args, "--profiles-dir", ".", "--target-path", target],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{output[-3000:]}")
    return output, seconds, usage.ru_maxrss / 1024


def scipy_components(warehouse: Path) -> tuple[float, int, int]:
    """scipy on the same edges: reading them out of the warehouse is not timed, building the matrix is."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        edges = con.execute("select node_a, node_b from intermediate.int_identity_edges_linked").fetchnumpy()
    started = time.perf_counter()
    a, b = edges["node_a"].astype(np.int64), edges["node_b"].astype(np.int64)
    size = int(max(a.max(), b.max())) + 1
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size)).tocsr()
    _, labels = connected_components(graph, directed=False)
    seconds = time.perf_counter() - started
    nodes = np.unique(np.concatenate([a, b]))
    return seconds, len(a), len(np.unique(labels[nodes]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-bench"))
    args = parser.parse_args()

    landing = args.workdir / f"landing-v2-{args.customers}x{args.days}-s{args.seed}"
    if not (landing / "_truth" / "identity.csv").exists():
        print(f"generating {args.customers:,} customers x {args.days} days into {landing} ...", flush=True)
        generate(landing, args.customers, args.days, args.seed)
    warehouse = args.workdir / f"identity-{args.customers}x{args.days}.duckdb"
    warehouse.unlink(missing_ok=True)
    started = time.perf_counter()
    con = connect(warehouse)
    ensure_raw_tables(con)
    rows = sum(load_source(con, landing, source).rows for source in SOURCES)
    con.close()
    print(f"loaded {rows:,} rows in {time.perf_counter() - started:.1f}s")

    target = str(args.workdir / "dbt-target")
    output, seconds, peak = dbt(["build"], warehouse, target)
    print(f"\ndbt build (seeds, staging, identity, marts, all tests): {seconds:.1f}s, peak memory {peak:,.0f} MiB")
    results = json.loads((Path(target) / "run_results.json").read_text())["results"]
    timings = {
        r["unique_id"].split(".")[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")
    }
    identity = {
        name: t for name, t in timings.items() if name.startswith("int_") or name.startswith(("customer_", "identity_"))
    }
    print(f"\n{'model':<36}{'seconds':>10}")
    for name, t in sorted(identity.items(), key=lambda item: -item[1]):
        print(f"{name:<36}{t:>10.2f}")
    print(f"{'identity models and marts':<36}{sum(identity.values()):>10.2f}")

    sql_runs = [
        float(s) for s in re.findall(r"connected_components\(\S+edges\): converged in \d+ rounds, ([0-9.]+)s", output)
    ]
    first_pass = sql_runs[0] if sql_runs else float("nan")
    scipy_seconds, edge_count, components = scipy_components(warehouse)
    print(f"\nclustering {edge_count:,} edges into {components:,} components (before identity limits):")
    print(f"  SQL (connected_components, first pass): {first_pass:.3f}s")
    print(f"  scipy.sparse.csgraph.connected_components: {scipy_seconds:.3f}s (matrix build included)")
    print(f"  ratio SQL / scipy: {first_pass / scipy_seconds:.1f}x")

    scores = evaluate_identity(warehouse, landing / "_truth" / "identity.csv")
    print("\nidentity scores:\n" + scores.render())


if __name__ == "__main__":
    main()
