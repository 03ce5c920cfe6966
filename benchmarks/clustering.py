"""Clustering on every graph shape: the SQL connected components (`macros/identity/connected_components.sql`)
against scipy.sparse.csgraph.connected_components, on the same edges, side by side in one run.

    python benchmarks/clustering.py --edges 2000000

Shapes, each about `--edges` edges:
- identity: people with one to six records, each record linking a few of its person's identifiers (emails,
  phones, devices, accounts); one identifier in 200 shared by two people (a family address, a shop's phone).
  Node ids are handed out as values first appear, as `int_identity_nodes_numbered` does.
- random: a sparse random graph (as many edges as nodes), one giant component and many small ones.
- paths, ordered ids: paths of 100 nodes whose ids run in order along each path.
- paths, shuffled ids: the same paths, ids shuffled.
- one long path: a single path through every node, ids in order.
- star of paths: a hub joined to the first node of 1,000 ordered paths.

Each graph is written to a DuckDB file and clustered `--repeats` times by `dbt run-operation
compute_connected_components` (the macro's own time, from its log line; dbt's start is not counted), and as many
times by scipy (the sparse matrix build included). The two partitions are checked to be the same. Prints figures
and the SQL / scipy ratio of medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from pathlib import Path

import duckdb
import numpy as np
from common import ROOT, run_measured, scipy_timed

DBT = str(Path(sys.executable).with_name("dbt"))
SECONDS = re.compile(r"connected_components\(\S+\): [^\n]*converged in (\d+) rounds, ([0-9.]+)s")
CONTRACTIONS = re.compile(r"connected_components\(\S+\): (\d+) contractions")


def first_seen_ids(values: np.ndarray) -> np.ndarray:
    """Renumbers values 0.. in the order they first appear."""
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse]


def identity_graph(edges: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Records (nodes) linked to their identifiers (nodes): about 2.2 links a record, 2.5 records a person."""
    people = edges // 5
    records_per_person = rng.integers(1, 7, people)
    person_of_record = np.repeat(np.arange(people), records_per_person)
    records = len(person_of_record)
    links_per_record = rng.integers(1, 4, records)
    record_of_link = np.repeat(np.arange(records), links_per_record)
    person = person_of_record[record_of_link]
    # a person has four identifiers (email, phone, device, account); a record shows one to three of them
    identifier = person * 4 + rng.integers(0, 4, len(record_of_link))
    shared = rng.random(len(identifier)) < 0.005
    identifier[shared] = rng.integers(0, people, shared.sum()) * 4
    record_nodes = record_of_link * 2  # records and identifiers in one id space, then numbered as they appear
    identifier_nodes = identifier * 2 + 1
    order = first_seen_ids(np.stack([record_nodes, identifier_nodes], axis=1).ravel()).reshape(-1, 2)
    return order[:, 0], order[:, 1]


def paths(nodes: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.arange(nodes - 1)
    keep = (a % length) != (length - 1)
    return a[keep], a[keep] + 1


def star_of_paths(nodes: int, arms: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    length = (nodes - 1) // arms
    a, b = paths(arms * length, length)
    starts = np.arange(arms) * length
    return np.concatenate([np.full(arms, arms * length), a]), np.concatenate([starts, b])


def shapes(edges: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ordered = paths(edges + edges // 99, 100)
    shuffle = rng.permutation(edges + edges // 99)
    return {
        "identity": identity_graph(edges, rng),
        "random": (rng.integers(0, edges, edges), rng.integers(0, edges, edges)),
        "paths, ordered ids": ordered,
        "paths, shuffled ids": (shuffle[ordered[0]], shuffle[ordered[1]]),
        "one long path": paths(edges + 1, edges + 1),
        "star of paths": star_of_paths(edges),
    }


def sql_components(warehouse: Path, repeats: int) -> tuple[list[float], int, int]:
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    args = "{edges: intermediate.bench_edges, output: intermediate.bench_components}"
    command = [DBT, "run-operation", "compute_connected_components", "--profiles-dir", ".", "--args", args]
    timings, rounds, contractions = [], 0, 0
    for _ in range(repeats):
        output = run_measured(command, env).output
        found = SECONDS.search(output)
        if found is None:
            raise SystemExit(f"no timing in dbt's output:\n{output[-2000:]}")
        rounds, contractions = int(found[1]), int(CONTRACTIONS.search(output)[1])
        timings.append(float(found[2]))
    return timings, contractions, rounds


def same_partition(warehouse: Path, labels: np.ndarray) -> bool:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.execute("select node, component from intermediate.bench_components").fetchnumpy()
    nodes, components = found["node"], found["component"]
    pairs = np.unique(np.stack([components, labels[nodes]]), axis=1)
    # the same partition: each SQL component meets one scipy label and each label one component
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edges", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    warehouse = args.workdir / "clustering.duckdb"
    print(f"clustering about {args.edges:,} edges a shape; medians of {args.repeats} runs (from {ROOT})\n")
    header = f"{'shape':<22}{'edges':>12}{'components':>12}{'contractions':>14}{'rounds':>8}"
    print(f"{header}{'SQL s':>9}{'scipy s':>9}{'SQL/scipy':>11}{'same':>6}")
    for name, (a, b) in shapes(args.edges, args.seed).items():
        warehouse.unlink(missing_ok=True)
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create schema intermediate")
            edges = {"node_a": a.astype(np.int64), "node_b": b.astype(np.int64)}  # noqa: F841 (read by DuckDB)
            con.execute("create table intermediate.bench_edges as select * from edges")
        sql, contractions, rounds = sql_components(warehouse, args.repeats)
        scipy, labels = scipy_timed(a, b, args.repeats)
        count = len(np.unique(labels[np.unique(np.concatenate([a, b]))]))
        sql_median, scipy_median = statistics.median(sql), statistics.median(scipy)
        print(
            f"{name:<22}{len(a):>12,}{count:>12,}{contractions:>14}{rounds:>8}{sql_median:>9.2f}{scipy_median:>9.2f}"
            f"{sql_median / scipy_median:>10.1f}x{'yes' if same_partition(warehouse, labels) else 'NO':>6}",
            flush=True,
        )
    warehouse.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
