"""Great Expectations between the warehouse and every destination: the suites catch what breaks a contract, say
where and how without showing personal data, and a failure stops what is downstream of it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.checks import raw_validation
from orchestration.quality.suites import profiles_suite, segment_sizes_suite
from orchestration.quality.validate import validate
from orchestration.sources import SOURCES_BY_NAME


def test_a_value_off_its_contract_fails_the_suite_named_by_table_column_and_expectation(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw._loads (file varchar, source varchar, sha256 varchar, rows bigint, quarantined bigint, "
            "loaded_at timestamp)"
        )
        con.execute(
            "create table raw.erasure_requests as select 'r' || i as request_id, 'person' || i || '@example.org' "
            "as email, null::varchar as phone, null::varchar as user_id, timestamp '2026-11-01' as requested_at, "
            "case when i = 3 then 'forget' else 'erase' end as type, 'erasure_requests/a.csv' as _file, "
            "now()::timestamp as _loaded_at, i as _line from range(5) t(i)"
        )
        con.execute("insert into raw._loads values ('erasure_requests/a.csv', 'erasure_requests', '', 5, 0, now())")
        result = raw_validation(con, SOURCES_BY_NAME["erasure_requests"])
        assert not result.passed
        assert "raw.erasure_requests.type: expect_column_values_to_be_in_set: 1 of 5 rows, e.g. 'forget'" in (
            result.description
        )
        assert "results" in result.metadata and result.metadata["rows_validated"].value == 5
        [(passed,)] = con.execute("select passed from raw._validations").fetchall()
        assert passed is False
        again = raw_validation(con, SOURCES_BY_NAME["erasure_requests"])
        assert not again.passed, "a file that failed keeps failing until its rows are fixed"
        con.execute("update raw.erasure_requests set type = 'erase'")
        assert raw_validation(con, SOURCES_BY_NAME["erasure_requests"]).passed


def test_failing_personal_values_are_masked_and_erased_customers_must_be_blank(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts")
        purposes = ", ".join(
            f"true as consent_{p}"
            for p in ("email_marketing", "sms_marketing", "advertising", "analytics", "personalization")
        )
        con.execute(
            f"create table marts.customer_profiles as select 'cus_' || i as customer_id, "
            f"case when i = 1 then 'jane.doe.example.org' else 'p' || i || '@example.org' end as email, "
            f"'+3361234567' || i as phone, 'Jane' as first_name, 'Doe' as last_name, 'Paris' as city, "
            f"'75001' as postal_code, i = 2 as is_erased, {purposes} from range(4) t(i)"
        )
        outcome = validate(con, profiles_suite())
    described = outcome.describe()
    assert not outcome.passed
    assert "marts.customer_profiles.email: expect_column_values_to_match_regex: 1 of 4 rows" in described
    assert "jane.doe.example.org" not in described and "j… (20 characters, personal data)" in described
    assert "marts.customer_profiles.first_name: expect_column_values_to_be_null: 1 of 1 rows" in described
    assert "Jane" not in described


def test_a_segment_that_jumps_beyond_the_allowed_change_fails(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TESSERA_SEGMENT_CHANGE_MIN_SIZE", "10")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.segment_memberships as select 'vip' as segment_name, 'c' || i as customer_id "
            "from range(40) t(i)"
        )
        con.execute(
            "create table marts.segment_membership_changes as select 'vip' as segment_name, 'c' || i as customer_id, "
            "'entered' as change, timestamp '2026-11-02' as changed_at, 'run2' as run_id from range(20, 40) t(i)"
        )  # 20 before the last build, 40 now: +100%
        outcome = validate(con, segment_sizes_suite())
    assert not outcome.passed
    assert "marts.segment_memberships.relative_change: expect_column_values_to_be_between: 1 of 1 rows" in (
        outcome.describe()
    )


@pytest.mark.pipeline
def test_a_bad_row_stops_nothing_and_a_broken_file_is_held_back_but_never_the_privacy_path(
    small_landing, tmp_path: Path
) -> None:
    landing, _ = small_landing
    shutil.copytree(landing, tmp_path / "landing")
    consent = tmp_path / "landing" / "consent_events"
    sample = json.loads(next(consent.glob("*.jsonl")).read_text().splitlines()[0])
    good = [{**sample, "event_id": f"late-{i}", "purpose": "analytics"} for i in range(40)]
    bad = {**sample, "event_id": "late-bad", "purpose": "everything"}
    (consent / "consent_events_2099-01-01.jsonl").write_text("".join(json.dumps(e) + "\n" for e in [*good, bad]))
    web = tmp_path / "landing" / "web_events"
    message = json.loads(next(web.glob("*.jsonl")).read_text().splitlines()[0])
    broken = [{**message, "messageId": f"broken-{i}", "type": "teleport"} for i in range(9)]
    fine = {**message, "messageId": "fine-but-held", "type": "page"}
    (web / "web_events_2099-01-01.jsonl").write_text("".join(json.dumps(e) + "\n" for e in [fine, *broken]))
    contact = next(csv.DictReader(next((tmp_path / "landing" / "crm_contacts").glob("*.csv")).open()))
    erasures = tmp_path / "landing" / "erasure_requests"
    erasures.mkdir(exist_ok=True)
    (erasures / "erasure_requests_2099-01-01.csv").write_text(
        "request_id,email,phone,user_id,requested_at,type\n"
        f"R-late,{contact['email']},{contact['phone']},,2026-11-30T10:00:00Z,erase\n"
    )
    warehouse = tmp_path / "tessera.duckdb"
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse), TESSERA_LANDING_DIR=str(tmp_path / "landing"))
    result = subprocess.run(
        [sys.executable, "-m", "orchestration", "run"], env=env, capture_output=True, text=True, timeout=600
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out  # the held-back file is a failure to look at...
    assert "FAILED: raw/web_events: great_expectations (held back from the models: web_events/web_events_2099" in out
    assert "warning: raw/consent_events: great_expectations" in out  # ...the one bad consent row only a warning
    assert "not run, downstream of a failure" not in out, "...and nothing else stopped"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(reason,)] = con.execute("select reason from raw._quarantine where content like '%late-bad%'").fetchall()
        staged = con.execute(
            "select count(*) filter (where consent_decision_id like 'late-%'), "
            "(select count(*) from staging.stg_web__events where message_id = 'fine-but-held') "
            "from staging.stg_consent__decisions"
        ).fetchone()
        [applied] = con.execute("select status from marts.privacy_requests where request_id = 'R-late'").fetchone()
    assert reason.startswith("purpose: 'everything' is not one of 'email_marketing'"), reason
    assert staged == (40, 0), "the other consent rows load; the held-back web file reaches no model"
    assert applied == "applied", "erasures and suppressions are applied whatever else failed"

    def tessera(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orchestration", *args], env=env, capture_output=True, text=True)

    listing = tessera("files", "--source", "web_events")
    held = next(line for line in listing.stdout.splitlines() if "web_events_2099-01-01" in line)
    assert "held back" in held and held.split()[-1] == "type" and "quarantined for" in listing.stdout, listing.stdout
    retracted = tessera("files", "retract", "web_events/web_events_2099-01-01.jsonl")
    assert retracted.returncode == 0 and "Retracted web_events/web_events_2099-01-01.jsonl" in retracted.stdout
    (web / "web_events_2099-01-01.jsonl").unlink()
    (web / "web_events_2099-01-01_corrected.jsonl").write_text(json.dumps(fine) + "\n")
    recovered = tessera("run")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert (
            con.execute("select count(*) from staging.stg_web__events where message_id = 'fine-but-held'").fetchone()[0]
            == 1
        )
        [(file, rebuilt)] = con.execute("select file, rebuilt_at is not null from raw._retractions").fetchall()
    assert (file, rebuilt) == ("web_events/web_events_2099-01-01.jsonl", True), "recorded, and rebuilt without it"


def test_the_syncs_wait_for_the_blocking_checks_on_their_inputs() -> None:
    from dagster._core.execution.api import create_execution_plan

    from orchestration.defs import definitions
    from orchestration.prepare import prepare

    prepare()
    defs = definitions()
    plan = create_execution_plan(defs.resolve_job_def("tessera_pipeline"))
    assert "warehouse_quality" in plan.get_step_by_key("reverse_etl_syncs").get_execution_dependency_keys()
    graph = defs.resolve_asset_graph()
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys if key.name == "great_expectations"}
    assert {f"raw/{name}" for name in SOURCES_BY_NAME} | {
        "marts/customer_profiles",
        "marts/segment_memberships",
        "activation/sync_customers",
        "activation/sync_segment_members",
    } == checked


def test_personal_columns_are_those_the_dbt_project_tags() -> None:
    from orchestration.quality.validate import is_personal

    assert is_personal("raw.crm_contacts", "street") and is_personal("raw.orders", "billing_postal_code")
    assert is_personal("marts.customer_profiles", "email")
    assert not is_personal("raw.orders", "status") and not is_personal("marts.customer_profiles", "churn_risk")
