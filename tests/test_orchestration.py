"""The Dagster project as the data team meets it: valid definitions, readable groups, schedules that do not pile
up, a landing sensor that fires once per new file set, and the instance (local by default, PostgreSQL in
production)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from orchestration.defs import definitions
from orchestration.defs.automation import new_files_request
from orchestration.defs.dbt_assets import FULL_CHECKS_TAG
from orchestration.defs.instance import LOCAL_HOME, TEMPLATES, dagster_home
from orchestration.defs.resources import LandingFolder, Warehouse
from orchestration.prepare import prepare
from tessera.settings import PROJECT_DIR, settings

LAYERS = {"loaders", "staging", "identity", "profiles", "segments", "activation", "syncs"}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    prepare()
    return definitions()


def test_dagster_validates_the_definitions() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "orchestration.definitions"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_every_asset_says_what_it_is_who_owns_it_and_sits_in_its_layer(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    nodes = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    assert {node.group_name for node in nodes.values()} == LAYERS
    incomplete = [name for name, node in nodes.items() if not (node.description and node.owners and node.kinds)]
    assert incomplete == []
    groups = {name: node.group_name for name, node in nodes.items()}
    assert groups["raw/orders"] == "loaders" and groups["staging/stg_crm__contacts"] == "staging"
    assert groups["intermediate/int_identity_edges_linked"] == "identity"
    assert groups["marts/customer_profiles"] == "profiles" and groups["marts/segment_memberships"] == "segments"
    assert groups["activation/sync_segment_members"] == "activation"
    assert groups["reverse_etl/vip_members_file"] == "syncs"
    assert nodes["reverse_etl/vip_members_file"].owners == ["crm-team@shop.example"]
    assert nodes["intermediate/segment_vip_loyalty_members"].owners == ["retail-team@shop.example"]  # its meta


def test_the_landing_sensor_fires_once_per_new_file_set(tmp_path: Path) -> None:
    landing = LandingFolder(path=str(tmp_path))
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "orders_2026-11-01.parquet").write_bytes(b"1")
    (tmp_path / "orders" / "notes.txt").write_text("not a landing file")

    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))

    def tick(cursor: str | None):
        context = dg.build_sensor_context(cursor=cursor, resources={"landing": landing, "warehouse": warehouse})
        return new_files_request(context, landing, warehouse), context.cursor

    first, cursor = tick(None)
    assert isinstance(first, dg.RunRequest) and first.tags["tessera/new_files"] == "1"
    again, cursor = tick(cursor)
    assert isinstance(again, dg.SkipReason), "the same files start nothing"
    (tmp_path / "orders" / "orders_2026-11-02.parquet").write_bytes(b"2")
    (tmp_path / "crm_contacts").mkdir()
    (tmp_path / "crm_contacts" / "crm_contacts_2026-11-02.csv").write_text("x")
    second, cursor = tick(cursor)
    assert isinstance(second, dg.RunRequest) and second.tags["tessera/new_files"] == "2"
    assert second.run_key != first.run_key
    assert isinstance(tick(cursor)[0], dg.SkipReason)


def test_the_landing_sensor_launches_nothing_for_files_a_run_already_loaded(tmp_path: Path) -> None:
    """`tessera ui` started after `tessera run`: a fresh sensor (no cursor) sees the files in the manifest."""
    landing = LandingFolder(path=str(tmp_path / "landing"))
    (tmp_path / "landing" / "orders").mkdir(parents=True)
    (tmp_path / "landing" / "orders" / "orders_2026-11-01.parquet").write_bytes(b"1")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema raw")
        con.execute("create table raw._loads as select 'orders/orders_2026-11-01.parquet' as file")
    context = dg.build_sensor_context()
    assert isinstance(new_files_request(context, landing, Warehouse(path=str(tmp_path / "w.duckdb"))), dg.SkipReason)


@pytest.mark.parametrize(
    ("name", "job"),
    [("daily_pipeline", "tessera_pipeline"), ("full_checks", "tessera_pipeline"), ("syncs_schedule", "tessera_syncs")],
)
def test_a_schedule_skips_while_a_run_of_its_job_is_in_flight(defs: dg.Definitions, name: str, job: str) -> None:
    schedule = defs.resolve_schedule_def(name)
    with dg.instance_for_test() as instance:
        assert isinstance(schedule(dg.build_schedule_context(instance=instance)), dg.RunRequest)
        run_id = uuid.uuid4().hex
        instance.add_run(DagsterRun(job_name=job, run_id=run_id, status=DagsterRunStatus.STARTED))
        skipped = schedule(dg.build_schedule_context(instance=instance))
        assert isinstance(skipped, dg.SkipReason) and run_id in skipped.skip_message
        instance.report_run_canceled(instance.get_run_by_id(run_id))
        assert isinstance(schedule(dg.build_schedule_context(instance=instance)), dg.RunRequest)


def test_the_weekly_full_checks_run_the_pipeline_with_every_test_over_its_whole_table(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("full_checks")
    assert schedule.job_name == "tessera_pipeline" and schedule.cron_schedule == "0 4 * * 0"
    with dg.instance_for_test() as instance:
        request = schedule(dg.build_schedule_context(instance=instance))
    assert isinstance(request, dg.RunRequest) and request.tags == {FULL_CHECKS_TAG: "true"}


def test_loaders_and_syncs_retry_and_sources_and_marts_have_freshness_checks(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for name in ("raw/orders", "reverse_etl/vip_members_file"):
        node = graph.get(dg.AssetKey.from_user_string(name))
        assert node.assets_def.op.retry_policy is not None, name
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys if "freshness" in key.name}
    assert {"raw/orders", "marts/customer_profiles", "activation/sync_customers"} <= checked


def test_the_instance_lives_inside_the_project_unless_dagster_home_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert LOCAL_HOME.parent == PROJECT_DIR
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = dagster_home()
    assert home == tmp_path / "home"
    assert (home / "dagster.yaml").read_text() == (TEMPLATES / "local.yaml").read_text()


def test_the_production_instance_keeps_runs_in_postgresql(
    tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg
    from dagster_postgres import PostgresRunStorage

    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute("drop database if exists tessera_dagster_test")
        connection.execute("create database tessera_dagster_test")
    params = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    user, host, port = params.get("user", "postgres"), params.get("host", "127.0.0.1"), params.get("port", 5432)
    url = f"postgresql+psycopg2://{user}@{host}:{port}"
    monkeypatch.setenv("TESSERA_DAGSTER_POSTGRES_URL", f"{url}/tessera_dagster_test")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((TEMPLATES / "postgres.yaml").read_text())

    @dg.asset
    def probe() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        result = dg.materialize([probe], instance=instance)
        assert result.success
    with psycopg.connect(postgres_dsn.replace("dbname=test", "dbname=tessera_dagster_test")) as connection:
        [(runs,)] = connection.execute("select count(*) from runs where run_id = %s", [result.run_id]).fetchall()
    assert runs == 1


def test_a_source_not_loaded_for_longer_than_configured_fails_its_freshness_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from orchestration.defs.automation import freshness_checks

    monkeypatch.setenv("TESSERA_SOURCE_FRESHNESS_HOURS", str(1 / 3600))  # one second
    key = dg.AssetKey(["raw", "orders"])
    *checks, _ = freshness_checks(settings(), [key], [])
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*checks))
    definitions = dg.Definitions(assets=[dg.AssetSpec(key)], asset_checks=checks, jobs=[job])
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))

        def evaluate() -> bool:
            result = definitions.resolve_job_def("freshness").execute_in_process(instance=instance)
            [evaluation] = result.get_asset_check_evaluations()
            return evaluation.passed

        assert evaluate(), "just loaded: fresh"
        time.sleep(1.5)
        assert not evaluate(), "older than configured: overdue"


DYING_RUN = """
import os, signal, sys
import dagster as dg

@dg.asset
def dies():
    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would

with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    dg.materialize([dies], instance=instance)
"""


def test_the_dead_runs_sensor_fails_a_run_whose_worker_died(tmp_path: Path) -> None:
    """A run worker killed outright leaves its run STARTED, which would block the queue for ever: the sensor
    finds its process gone (from the pid of its RUN_START event) and marks it failed; live runs are left alone."""
    from orchestration.defs.runs import dead_runs

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((TEMPLATES / "local.yaml").read_text())
    subprocess.run([sys.executable, "-c", DYING_RUN, str(home)], capture_output=True, timeout=120)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == DagsterRunStatus.STARTED
        result = dead_runs(dg.build_sensor_context(instance=instance))
        assert f"marked failed: {run.run_id}" in result.skip_message
        failed = instance.get_run_by_id(run.run_id)
        assert failed.status == DagsterRunStatus.FAILURE
        assert (
            "its process"
            in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            .records[0]
            .event_log_entry.dagster_event.message
        )
        again = dead_runs(dg.build_sensor_context(instance=instance))
        assert again.skip_message == "no run whose process is gone"
