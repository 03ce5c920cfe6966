"""Identity resolution in the warehouse: the connected-components macro on graphs with known answers."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import PROJECT_DIR

DBT = str(Path(sys.executable).with_name("dbt"))


def components(warehouse: Path, edges: list[tuple[int, int]], max_iterations: int = 100) -> subprocess.CompletedProcess:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists intermediate")
        con.execute("create or replace table intermediate.test_edges (node_a bigint, node_b bigint)")
        con.executemany("insert into intermediate.test_edges values (?, ?)", edges)
    args = f"{{edges: intermediate.test_edges, output: intermediate.test_components, max_iterations: {max_iterations}}}"
    return subprocess.run(
        [DBT, "run-operation", "compute_connected_components", "--profiles-dir", ".", "--args", args],
        cwd=PROJECT_DIR,
        env=dict(os.environ, TESSERA_WAREHOUSE=str(warehouse)),
        capture_output=True,
        text=True,
    )


def read_components(warehouse: Path) -> dict[int, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(con.execute("select node, component from intermediate.test_components").fetchall())


def test_a_path_of_1000_nodes_is_one_component(warehouse: Path) -> None:
    nodes = list(range(1000))
    random.Random(7).shuffle(nodes)  # labels in no helpful order
    path = list(zip(nodes, nodes[1:], strict=False))
    result = components(warehouse, path + [(5000, 5001), (5001, 5002), (7000, 7000)])
    assert result.returncode == 0, result.stdout[-2000:]
    found = read_components(warehouse)
    assert {found[node] for node in nodes} == {0}
    assert [found[5000], found[5001], found[5002], found[7000]] == [5000, 5000, 5000, 7000]
    assert len(found) == 1004


def test_it_fails_rather_than_answer_before_converging(warehouse: Path) -> None:
    path = [(node, node + 1) for node in range(1000)]
    result = components(warehouse, path, max_iterations=2)
    assert result.returncode != 0
    assert "did not converge within 2 rounds" in result.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
    assert "test_components" not in tables, "no partial result is left behind"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_agrees_with_a_reference_on_random_graphs(warehouse: Path, seed: int) -> None:
    rng = random.Random(seed)
    edges = [(rng.randrange(300), rng.randrange(300)) for _ in range(250)]
    assert components(warehouse, edges).returncode == 0
    parent = {}

    def root(node: int) -> int:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for a, b in edges:
        parent[max(root(a), root(b))] = min(root(a), root(b))
    expected = {node: root(node) for edge in edges for node in edge}
    assert read_components(warehouse) == expected
