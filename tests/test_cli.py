"""The command line as a person meets it: flags read as flags, a whole row on demand, SQL errors as errors, and a
missing warehouse that says what to run."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

COMMANDS = [
    *([name] for name in ("run", "demo", "query", "sync", "privacy", "files", "segments", "prepare", "ui", "docs",
                          "evaluate-identity", "generate", "schemas")),
    [], ["files", "retract"], ["segments", "compile"],
]  # fmt: skip


def tessera(*args: str, warehouse: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TESSERA_WAREHOUSE": str(warehouse)}
    return subprocess.run([sys.executable, "-m", "orchestration", *args], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_profiles as select * from (values "
            "('c1', 'ann@example.org', 'A long note, with a comma, cut short in a table: ' || repeat('x', 80)), "
            "('c2', null, 'short')) as t(customer_id, email, note)"
        )
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "tessera")
def test_help_shows_flags_as_flags(command: list[str], tmp_path: Path) -> None:
    result = tessera(*command, "--help", warehouse=tmp_path / "none.duckdb")
    assert result.returncode == 0, result.stderr
    assert "<bool>" not in result.stdout and "--help" in result.stdout


def test_query_shows_whole_rows_vertically_as_json_and_as_csv(warehouse: Path) -> None:
    sql = "select * from marts.customer_profiles order by customer_id"
    vertical = tessera("query", "--vertical", sql, warehouse=warehouse)
    assert vertical.returncode == 0, vertical.stderr
    assert "-[ row 1 ]" in vertical.stdout and "x" * 80 in vertical.stdout and "(2 rows)" in vertical.stdout
    lines = tessera("query", "--json", sql, warehouse=warehouse).stdout.splitlines()
    assert [json.loads(line)["customer_id"] for line in lines] == ["c1", "c2"]
    assert json.loads(lines[1])["email"] is None
    rows = list(csv.reader(io.StringIO(tessera("query", "--csv", sql, warehouse=warehouse).stdout)))
    assert rows[0] == ["customer_id", "email", "note"] and rows[1][2].endswith("x" * 80) and len(rows) == 3


def test_a_sql_error_is_an_error_not_a_usage_error(warehouse: Path) -> None:
    result = tessera("query", "select nope from marts.customer_profiles", warehouse=warehouse)
    assert result.returncode == 1
    assert result.stderr.startswith("SQL error: Binder Error") and "Usage:" not in result.stderr


def test_a_missing_warehouse_says_what_to_run_and_offers_the_demo(tmp_path: Path) -> None:
    for command in (["query", "select 1"], ["sync"], ["files"], ["privacy"], ["evaluate-identity"], ["segments"]):
        result = tessera(*command, warehouse=tmp_path / "none.duckdb")
        assert result.returncode == 2, command
        assert "run `tessera run` first, or pass --demo" in " ".join(result.stderr.split()), (command, result.stderr)
