"""What a build builds (`orchestration.builds.plan_build`), on a small project graph and a real DuckDB warehouse:
everything at first and when the project changes, then only what is downstream of the raw tables that changed,
the reference tables their tests read, and any model whose table went missing. (`tests/test_pipeline.py` runs it
through `tessera run` and compares the marts with a full rebuild.)"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from orchestration.builds import plan_build
from orchestration.loading.warehouse import record_build

ERASURES_MACRO = "macro.tessera.erasure_tombstones"
OPTIONAL_MACRO = "macro.tessera.optional_relation"


def _node(name: str, parents: list[str], kind: str = "model", schema: str = "staging", macros=()) -> dict:
    return {
        "name": name,
        "resource_type": kind,
        "schema": schema,
        "alias": name,
        "config": {"materialized": "table"},
        "depends_on": {"nodes": parents, "macros": list(macros)},
    }


def _manifest() -> dict:
    """crm_contacts -> stg_contacts, consent_events -> stg_consent; both -> profiles (tested against the seed
    `purposes`); stg_consent -> consents; privacy reads the tombstones, deliveries a sync engine's table, each
    through its macro."""
    nodes = {
        "model.t.stg_contacts": _node("stg_contacts", ["source.t.crm.crm_contacts"]),
        "model.t.stg_consent": _node("stg_consent", ["source.t.consent.consent_events"]),
        "model.t.profiles": _node("profiles", ["model.t.stg_contacts", "model.t.stg_consent"], schema="marts"),
        "model.t.consents": _node("consents", ["model.t.stg_consent"], schema="marts"),
        "model.t.privacy": _node("privacy", [], schema="intermediate", macros=[ERASURES_MACRO]),
        "model.t.deliveries": _node("deliveries", [], schema="marts", macros=[OPTIONAL_MACRO]),
        "seed.t.purposes": _node("purposes", [], kind="seed"),
        "test.t.relationships_profiles_purposes": _node("rel", ["model.t.profiles", "seed.t.purposes"], kind="test"),
        "test.t.not_null_stg_contacts_id": _node("nn", ["model.t.stg_contacts"], kind="test"),
    }
    sources = {
        "source.t.crm.crm_contacts": {"source_name": "crm", "name": "crm_contacts", "schema": "raw",
                                      "identifier": "crm_contacts"},
        "source.t.consent.consent_events": {"source_name": "consent", "name": "consent_events", "schema": "raw",
                                            "identifier": "consent_events"},
    }  # fmt: skip
    child_map: dict[str, list[str]] = {uid: [] for uid in [*nodes, *sources]}
    for uid, node in nodes.items():
        for parent in node["depends_on"]["nodes"]:
            child_map[parent].append(uid)
    parent_map = {uid: node["depends_on"]["nodes"] for uid, node in nodes.items()}
    return {"nodes": nodes, "sources": sources, "child_map": child_map, "parent_map": parent_map}


@pytest.fixture
def con():
    """A warehouse holding both raw tables and every model's table, as after a build."""
    con = duckdb.connect()
    con.execute("create schema raw; create schema staging; create schema intermediate; create schema marts")
    for table in ("crm_contacts", "consent_events"):
        con.execute(f"create table raw.{table} (id varchar, _loaded_at timestamp)")
        con.execute(f"insert into raw.{table} values ('1', '2026-10-01 00:00:00')")
    for node in _manifest()["nodes"].values():
        if node["resource_type"] != "test":
            con.execute(f"create table {node['schema']}.{node['name']} (id varchar)")
    yield con
    con.close()


def _names(uids: set[str]) -> set[str]:
    return {uid.rsplit(".", 1)[1] for uid in uids}


def test_the_first_build_and_a_changed_project_build_everything(con) -> None:
    first = plan_build(con, _manifest(), "project-1")
    assert first.everything and not first.exclude and "no build" in first.reason
    record_build(con, "project-1", first.inputs)
    changed = plan_build(con, _manifest(), "project-2")
    assert changed.everything and "project changed" in changed.reason


def test_nothing_new_builds_nothing(con) -> None:
    record_build(con, "p", plan_build(con, _manifest(), "p").inputs)
    plan = plan_build(con, _manifest(), "p")
    assert not plan.everything and not plan.built
    assert _names(plan.unchanged) == {
        "stg_contacts",
        "stg_consent",
        "profiles",
        "consents",
        "privacy",
        "deliveries",
        "purposes",
    }
    assert "no raw table changed" in plan.reason


def test_new_rows_in_one_raw_table_build_what_is_downstream_and_what_its_tests_read(con) -> None:
    record_build(con, "p", plan_build(con, _manifest(), "p").inputs)
    con.execute("insert into raw.consent_events values ('2', ?)", [datetime(2026, 10, 2)])
    plan = plan_build(con, _manifest(), "p")
    # profiles' relationships test reads the seed: built too, or dbt would leave the test out.
    assert _names(plan.built) == {"stg_consent", "profiles", "consents", "purposes"}
    assert _names(plan.unchanged) == {"stg_contacts", "privacy", "deliveries"}
    assert sorted(plan.exclude) == ["deliveries", "privacy", "source:crm.crm_contacts", "stg_contacts"]
    assert "consent_events" in plan.reason


def test_deleted_rows_count_as_a_change_and_a_missing_table_is_built_again(con) -> None:
    record_build(con, "p", plan_build(con, _manifest(), "p").inputs)
    con.execute("delete from raw.crm_contacts")
    con.execute("drop table marts.consents")
    plan = plan_build(con, _manifest(), "p")
    assert _names(plan.built) == {"stg_contacts", "profiles", "purposes", "consents"}
    assert "consents (missing)" in plan.reason


def test_an_erasure_builds_the_models_that_read_the_tombstones(con) -> None:
    record_build(con, "p", plan_build(con, _manifest(), "p").inputs)
    con.execute("create table raw._erasures (identifier_hash varchar, erased_at timestamp)")
    con.execute("insert into raw._erasures values ('h', '2026-10-03 00:00:00')")
    assert _names(plan_build(con, _manifest(), "p").built) == {"privacy"}


def test_a_sync_engine_table_that_appeared_builds_the_views_over_it(con) -> None:
    """marts.erasure_deliveries reads an empty stand-in until the first sync creates its table."""
    record_build(con, "p", plan_build(con, _manifest(), "p").inputs)
    con.execute("create schema reverse_etl; create table reverse_etl.erasure_deliveries (request_id varchar)")
    assert _names(plan_build(con, _manifest(), "p").built) == {"deliveries"}


def test_a_failed_build_records_nothing_so_the_next_builds_the_change_again(con) -> None:
    record_build(con, "p", plan_build(con, _manifest(), "p").inputs)
    con.execute("insert into raw.crm_contacts values ('2', ?)", [datetime(2026, 10, 2)])
    failed = plan_build(con, _manifest(), "p")  # the build fails: nothing recorded
    assert plan_build(con, _manifest(), "p").built == failed.built == {
        "model.t.stg_contacts", "model.t.profiles", "seed.t.purposes"
    }  # fmt: skip
    record_build(con, "p", failed.inputs)
    assert not plan_build(con, _manifest(), "p").built
