"""Tests that scale with the change: a generic test on an incremental model reads the rows its latest build wrote
(macros/tests/scoped_tests.sql), the full-table checks everything, and neither loses what a check catches.

For each kind of generic test on an incremental model (not_null, unique, accepted_values, relationships,
unique_combination) a row is broken twice over: as an old row, which only the full checks see, and as a row of the
latest build, which the daily, scoped checks catch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from orchestration.demo_data import generate
from orchestration.loading.warehouse import ensure_raw_tables, load_source
from orchestration.sources import SOURCES
from tessera.settings import PROJECT_DIR
from tessera.warehouse import connect

pytestmark = pytest.mark.pipeline

DBT = str(Path(sys.executable).with_name("dbt"))

# Each table's broken row: (its key column, which rows it is chosen from), the smallest key of the first build's.
TABLES = {
    "marts.customer_events": ("event_id", "true"),
    "staging.stg_web__events": ("message_id", "true"),
    "marts.customer_source_records": ("source_record_id", "source = 'orders'"),
}
# Each test, and the statement that breaks the row of its table ({table}, {key}: the row's key column).
BROKEN_ROWS = {
    "not_null_customer_events_customer_id": "update {table} set customer_id = null where {key} = ?",
    "unique_customer_events_event_id": "insert into {table} select * from {table} where {key} = ?",
    "accepted_values_stg_web__events": "update {table} set event_type = 'bogus' where {key} = ?",
    "relationships_customer_source_records_customer_id": "update {table} set customer_id = 'cus_x' where {key} = ?",
    "unique_combination_customer_source_records": "insert into {table} select * from {table} where {key} = ?",
}
BROKEN_TABLES = {
    "not_null_customer_events_customer_id": "marts.customer_events",
    "unique_customer_events_event_id": "marts.customer_events",
    "accepted_values_stg_web__events": "staging.stg_web__events",
    "relationships_customer_source_records_customer_id": "marts.customer_source_records",
    "unique_combination_customer_source_records": "marts.customer_source_records",
}
MODELS = ["customer_events", "stg_web__events", "customer_source_records"]


def dbt(warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    return subprocess.run(
        [DBT, *args, "--profiles-dir", "."], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900
    )


def caught(result: subprocess.CompletedProcess[str]) -> set[str]:
    """The tests of BROKEN_ROWS the output names as failed, or as warning (an unknown event type warns)."""
    lines = [line for line in result.stdout.splitlines() if "Failure in test" in line or "Warning in test" in line]
    return {name for name in BROKEN_ROWS if any(f" in test {name}" in line for line in lines)}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of two builds, a first of two days and the next of one, from a landing folder unlike the
    demo's (another seed and size); the landing folder is beside it."""
    work = tmp_path_factory.mktemp("scoped")
    generated = work / "generated"
    generate(generated, customers=400, days=3, seed=11)
    last_day = max(path.stem.split("_")[-1] for path in (generated / "crm_contacts").iterdir())
    warehouse = work / "tessera.duckdb"
    for day_passed in (False, True):
        for path in generated.rglob("*"):
            if path.is_file() and (day_passed or last_day not in path.name):
                (work / "landing" / path.relative_to(generated)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, work / "landing" / path.relative_to(generated))
        con = connect(warehouse)
        ensure_raw_tables(con)
        for source in SOURCES:
            load_source(con, work / "landing", source)
        con.close()
        result = dbt(warehouse, "build", "--exclude-resource-type", "unit_test")
        assert result.returncode == 0, result.stdout[-3000:]
    return warehouse


def break_rows(warehouse: Path, *, as_latest_build: bool, tests: tuple[str, ...] = tuple(BROKEN_ROWS)) -> None:
    """Breaks one row per test of BROKEN_ROWS (or of `tests`), a row of the first build; `as_latest_build`: the
    broken rows are then stamped as written by a build later than every other (the rows a daily run's tests
    read)."""
    with duckdb.connect(str(warehouse)) as con:
        keys = {}
        for table, (key, among) in TABLES.items():
            first_build = f"_built_at = (select min(_built_at) from {table})"
            keys[table] = con.execute(f"select min({key}) from {table} where {among} and {first_build}").fetchone()[0]
        for test in tests:
            table = BROKEN_TABLES[test]
            con.execute(BROKEN_ROWS[test].format(table=table, key=TABLES[table][0]), [keys[table]])
        if as_latest_build:
            for table, (key, _) in TABLES.items():
                con.execute(f"update {table} set _built_at = _built_at + interval 1 day where {key} = ?", [keys[table]])


def test_a_scoped_check_reads_only_the_rows_of_the_latest_build(built: Path) -> None:
    with duckdb.connect(str(built), read_only=True) as con:
        builds = con.execute("select count(distinct _built_at) from marts.customer_events").fetchone()[0]
    assert builds == 2, "each build stamps the rows it wrote"
    result = dbt(built, "compile", "-s", "not_null_customer_events_customer_id")
    assert "where tested._built_at = (select max(_built_at) from" in result.stdout
    tables = dbt(built, "compile", "-s", "not_null_customer_profiles_customer_id")
    assert "_built_at" not in tables.stdout, "a table is rebuilt whole every run: its tests read all of it"


def test_broken_old_rows_pass_the_daily_checks_and_fail_the_full_checks(built: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "old-rows.duckdb"
    shutil.copy(built, warehouse)
    break_rows(warehouse, as_latest_build=False)
    daily = dbt(warehouse, "test", "-s", *MODELS)
    assert daily.returncode == 0, daily.stdout[-3000:]
    full = dbt(warehouse, "test", "-s", *MODELS, "--vars", "{full_checks: true}")
    assert full.returncode == 1
    assert caught(full) == set(BROKEN_ROWS), full.stdout[-3000:]


def test_every_kind_of_check_catches_a_broken_row_of_the_latest_build(built: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "new-rows.duckdb"
    shutil.copy(built, warehouse)
    break_rows(warehouse, as_latest_build=True)
    daily = dbt(warehouse, "test", "-s", *MODELS)
    assert daily.returncode == 1
    assert caught(daily) == set(BROKEN_ROWS), daily.stdout[-3000:]


def test_the_one_customer_check_reads_the_latest_builds_records_and_all_with_full_checks(
    built: Path, tmp_path: Path
) -> None:
    """The singular check that every identifiable record has a customer is scoped as the generic tests are: a
    record the latest build assigned that lost its customer row fails the daily check; an older one only the
    full check."""
    check = "assert_every_identifiable_record_has_one_customer"
    in_latest_build = (
        "exists (select 1 from intermediate.{model} as built where built.source = published.source "
        "and built.source_record_id = published.source_record_id "
        "and built._built_at = (select max(_built_at) from intermediate.{model}))"
    )
    latest = " or ".join(
        in_latest_build.format(model=m) for m in ("int_source_records_assigned", "int_identity_records_keyed")
    )
    for which, caught_daily in ((f"not ({latest})", False), (latest, True)):
        warehouse = tmp_path / f"one-customer-{caught_daily}.duckdb"
        shutil.copy(built, warehouse)
        with duckdb.connect(str(warehouse)) as con:
            record = con.execute(
                f"select source, source_record_id from marts.customer_source_records as published where {which} "
                "order by 1, 2 limit 1"
            ).fetchone()
            assert record, "the two builds each assigned records"
            con.execute("delete from marts.customer_source_records where source = ? and source_record_id = ?", record)
        daily = dbt(warehouse, "test", "-s", check)
        assert (daily.returncode == 1) == caught_daily, daily.stdout[-3000:]
        full = dbt(warehouse, "test", "-s", check, "--vars", "{full_checks: true}")
        assert full.returncode == 1, full.stdout[-3000:]


def test_tessera_run_full_checks_reads_whole_tables(built: Path, tmp_path: Path) -> None:
    """Through `tessera run --full-checks`, as the data team runs it (the weekly schedule tags its runs alike). The
    rows broken are of a mart no other model reads, so that only its own tests can fail."""
    warehouse = tmp_path / "full.duckdb"
    shutil.copy(built, warehouse)
    broken = ("relationships_customer_source_records_customer_id", "unique_combination_customer_source_records")
    break_rows(warehouse, as_latest_build=False, tests=broken)
    landing = built.parent / "landing"
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse), TESSERA_LANDING_DIR=str(landing))
    command = [sys.executable, "-m", "orchestration", "run"]
    daily = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert daily.returncode == 0, daily.stdout[-3000:] + daily.stderr[-3000:]
    full = subprocess.run([*command, "--full-checks"], env=env, capture_output=True, text=True, timeout=900)
    assert full.returncode == 1
    assert all(f"FAILED: marts/customer_source_records: {test}" in full.stdout for test in broken), full.stdout[-3000:]


def test_a_warehouse_built_before_the_stamps_builds_on_without_a_full_refresh(built: Path, tmp_path: Path) -> None:
    """A warehouse of an earlier version holds no `_built_at` (nor the survivorship rule of each ranked row): the
    next build adds the columns, and ranks every customer again."""
    warehouse = tmp_path / "earlier.duckdb"
    shutil.copy(built, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        stamped = con.execute(
            "select table_schema || '.' || table_name from information_schema.columns where column_name = '_built_at'"
        ).fetchall()
        for (table,) in stamped:
            con.execute(f"alter table {table} drop column _built_at")
        con.execute("alter table intermediate.int_profile_attributes_ranked drop column _survivorship_rule")
        ranked = con.execute("select count(*) from intermediate.int_profile_attributes_ranked").fetchone()[0]
    assert len(stamped) >= 15
    result = dbt(warehouse, "build", "--exclude-resource-type", "unit_test")
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        reranked = con.execute(
            "select count(*) from intermediate.int_profile_attributes_ranked where _survivorship_rule is not null"
        ).fetchone()[0]
    assert reranked == ranked


def test_the_unit_tests_pass(built: Path) -> None:
    """The dbt unit tests check the SQL, not the data: they run here, not in every build."""
    result = dbt(built, "test", "--select", "test_type:unit")
    assert result.returncode == 0, result.stdout[-3000:]
    # every unit test the project declares ran and passed
    files = [yaml.safe_load(path.read_text()) for path in (PROJECT_DIR / "models").rglob("*.yml")]
    declared = sum(len(found.get("unit_tests", [])) for found in files if found)
    assert declared >= 11 and f"PASS={declared}" in result.stdout, result.stdout[-2000:]
