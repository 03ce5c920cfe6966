"""Identity resolution in the warehouse: connected components on graphs with known answers, and stable ids."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.demo_data import generate
from orchestration.demo_data.writer import ORDERS_SCHEMA
from orchestration.loading.warehouse import ensure_raw_tables, load_source
from orchestration.sources import SOURCES, SOURCES_BY_NAME
from tessera.settings import PROJECT_DIR
from tessera.warehouse import connect

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


def partition(components: dict[int, int]) -> set[frozenset[int]]:
    """The node sets of a node -> component mapping (a component is named by any one of its nodes)."""
    members: dict[int, set[int]] = {}
    for node, component in components.items():
        members.setdefault(component, set()).add(node)
    for component, nodes in members.items():
        assert component in nodes, f"component {component} is named by a node outside it"
    return {frozenset(nodes) for nodes in members.values()}


def test_a_path_of_1000_nodes_is_one_component(warehouse: Path) -> None:
    nodes = list(range(1000))
    random.Random(7).shuffle(nodes)  # labels in no helpful order
    path = list(zip(nodes, nodes[1:], strict=False))
    result = components(warehouse, path + [(5000, 5001), (5001, 5002), (7000, 7000)])
    assert result.returncode == 0, result.stdout[-2000:]
    assert partition(read_components(warehouse)) == {frozenset(nodes), frozenset({5000, 5001, 5002}), frozenset({7000})}


@pytest.mark.parametrize("shape", ["ordered path", "star of ordered paths"])
def test_no_numbering_of_the_nodes_stalls_contraction(warehouse: Path, shape: str) -> None:
    """Ids that run in order along a path (values numbered as they first appear) made contraction to the
    smallest neighbour lose one node a round; contraction in a hashed order still resolves it alone."""
    if shape == "ordered path":
        edges = [(node, node + 1) for node in range(2000)]
    else:
        edges = [(10_000, arm * 100) for arm in range(20)]
        edges += [(arm * 100 + step, arm * 100 + step + 1) for arm in range(20) for step in range(99)]
    result = components(warehouse, edges)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "converged in 0 rounds" in result.stdout, "contraction left edges for the slower fallback"
    found = read_components(warehouse)
    assert set(found.values()) == {min(found)}, "one component, named by its smallest node"
    assert len(found) == len({node for edge in edges for node in edge})


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
    assert partition(read_components(warehouse)) == partition(expected)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _segment_identify(message_id: str, anonymous_id: str, user_id: str, email: str) -> str:
    return (
        f'{{"type":"identify","messageId":"{message_id}","anonymousId":"{anonymous_id}","userId":"{user_id}",'
        f'"timestamp":"2026-10-01T10:00:00Z","traits":{{"email":"{email}"}}}}\n'
    )


def _run(landing: Path, warehouse: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse), TESSERA_LANDING_DIR=str(landing))
    return subprocess.run([sys.executable, "-m", "orchestration", "run"], env=env, capture_output=True, text=True)


def _customers(warehouse: Path) -> dict[tuple[str, str], str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select source, source_record_id, customer_id from marts.customer_source_records")
        return {(source, record): customer for source, record, customer in rows.fetchall()}


@pytest.mark.pipeline
def test_new_data_merges_two_customers_and_the_older_id_survives(tmp_path: Path, warehouse: Path) -> None:
    landing = tmp_path / "landing"
    header = ",".join(SOURCES_BY_NAME["crm_contacts"].column_names) + "\n"
    _write(
        landing / "crm_contacts" / "day1.csv",
        header + "C1,Ana,Lopez,ana@mail.com,,,,,,ES,lead,2026-09-01 10:00:00,2026-09-01 10:00:00\n",
    )
    _write(landing / "web_events" / "day1.jsonl", _segment_identify("m1", "a1", "U-1", "ana.work@corp.com"))
    first = _run(landing, warehouse)
    assert first.returncode == 0, first.stdout
    before = _customers(warehouse)
    crm_customer, web_customer = before[("crm_contacts", "C1")], before[("web_events", "m1")]
    assert crm_customer != web_customer, "nothing links them yet"

    # An order placed with the account and the CRM email: the same person after all.
    row = dict.fromkeys(ORDERS_SCHEMA.names)
    row.update(
        order_id="O1",
        customer_account_id="U-1",
        email="ANA@mail.com ",
        currency="EUR",
        status="paid",
        total=Decimal("10.00"),
        created_at=datetime(2026, 10, 2, 9),
        line_items=[],
    )
    (landing / "orders").mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=ORDERS_SCHEMA), landing / "orders" / "day2.parquet")
    second = _run(landing, warehouse)
    assert second.returncode == 0, second.stdout
    after = _customers(warehouse)
    survivor = after[("crm_contacts", "C1")]
    assert after[("web_events", "m1")] == after[("orders", "O1")] == survivor
    assert survivor in {crm_customer, web_customer}, "an existing id survives; none is invented"
    retired = ({crm_customer, web_customer} - {survivor}).pop()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        merges = con.execute("select previous_customer_id, customer_id from marts.identity_merges").fetchall()
        profiles = {r[0] for r in con.execute("select customer_id from marts.customer_profiles").fetchall()}
        event_customers = dict(con.execute("select event_id, customer_id from marts.customer_events").fetchall())
    assert merges == [(retired, survivor)]
    assert retired not in profiles
    assert event_customers == {"m1": survivor, "O1": survivor}, "earlier events follow the merge"

    third = _run(landing, warehouse)  # nothing new: nothing moves, no merge is recorded twice
    assert third.returncode == 0
    assert _customers(warehouse) == after
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from marts.identity_merges").fetchone()[0] == 1


@pytest.mark.pipeline
def test_a_value_turning_hot_splits_a_customer_and_the_larger_part_keeps_the_id(
    tmp_path: Path, warehouse: Path
) -> None:
    landing = tmp_path / "landing"
    crm_header = ",".join(SOURCES_BY_NAME["crm_contacts"].column_names) + "\n"
    contact = (
        "C1,Ana,Lopez,desk@shop.example.org,+34 612 48 93 07,,,,,ES,lead,2026-09-01 10:00:00,2026-09-01 10:00:00\n"
    )
    duplicate = "C2,Ana,Lopes,,0034612489307,,,,,ES,lead,2026-09-02 10:00:00,2026-09-02 10:00:00\n"
    _write(landing / "crm_contacts" / "day1.csv", crm_header + contact + duplicate)
    _write(landing / "web_events" / "day1.jsonl", _segment_identify("m1", "a1", "U-1", "desk@shop.example.org"))
    assert _run(landing, warehouse).returncode == 0
    before = _customers(warehouse)
    assert before[("crm_contacts", "C1")] == before[("web_events", "m1")]
    original = before[("crm_contacts", "C1")]

    # Seven store enrolments typed with the same address: it is a shared desk email, not Ana's.
    loyalty_header = ",".join(SOURCES_BY_NAME["loyalty_members"].column_names) + "\n"
    cards = "".join(
        f"LC{n},desk@shop.example.org,,P{n},Q{n},1990-01-01,28013,ES01,2026-10-02 10:00:00\n" for n in range(7)
    )
    _write(landing / "loyalty_members" / "day2.csv", loyalty_header + cards)
    second = _run(landing, warehouse)
    assert second.returncode == 0, second.stdout
    after = _customers(warehouse)
    assert after[("crm_contacts", "C1")] == after[("crm_contacts", "C2")] == original, "the larger part keeps the id"
    assert after[("web_events", "m1")] != original
    assert len({after[("loyalty_members", f"LC{n}")] for n in range(7)}) == 7, "the cards link to no one"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        blocked = con.execute(
            "select reason from intermediate.int_identifiers_blocked where identifier_value = ?",
            ["desk@shop.example.org"],
        ).fetchone()
        splits = con.execute("select previous_customer_id, customer_id from marts.identity_splits").fetchall()
    assert blocked and blocked[0].startswith("hot")
    assert splits == [(original, after[("web_events", "m1")])]

    # A record that leaves int_source_records_assigned leaves the customer marts kept incrementally, though no
    # new row arrives: their post-hook compares checksums of the record keys and finds it.
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("select count(*) from marts.customer_events where event_id = 'm1'").fetchone() == (1,)
        con.execute("delete from intermediate.int_source_records_assigned where source_record_id = 'm1'")
    rebuilt = _dbt(warehouse, "run", "-s", "customer_events", "customer_source_records")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        left = con.execute(
            "select (select count(*) from marts.customer_events where event_id = 'm1'),"
            " (select count(*) from marts.customer_source_records where source_record_id = 'm1'),"
            " (select count(*) from marts.customer_source_records)"
        ).fetchone()
    assert left[:2] == (0, 0) and left[2] > 0


def _dbt(warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    return subprocess.run([DBT, *args, "--profiles-dir", "."], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)


def _load(warehouse: Path, landing: Path) -> None:
    con = connect(warehouse)
    ensure_raw_tables(con)
    for source in SOURCES:
        load_source(con, landing, source)
    con.close()


def _clusters(warehouse: Path) -> tuple[set[frozenset[int]], set[tuple[int, int, str]]]:
    """The clusters as node sets, and the links dropped by the limits."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        clusters = dict(
            con.execute("select node_id, cluster_id from intermediate.int_identity_nodes_clustered").fetchall()
        )
        dropped = set(con.execute("select * from intermediate.int_identity_links_dropped").fetchall())
    members: dict[int, set[int]] = {}
    for node, cluster in clusters.items():
        members.setdefault(cluster, set()).add(node)
    return {frozenset(nodes) for nodes in members.values()}, dropped


@pytest.mark.pipeline
def test_a_run_with_new_files_redoes_only_what_they_touch_and_agrees_with_doing_everything(
    tmp_path: Path, warehouse: Path
) -> None:
    generated = tmp_path / "generated"
    generate(generated, customers=1500, days=6, seed=5)
    last_days = sorted(path.stem.split("_")[-1] for path in (generated / "crm_contacts").iterdir())[-2:]
    landing = tmp_path / "landing"
    for path in generated.rglob("*"):
        if path.is_file() and not any(day in path.name for day in last_days):
            (landing / path.relative_to(generated)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, landing / path.relative_to(generated))
    _load(warehouse, landing)
    first = _dbt(warehouse, "build")
    assert first.returncode == 0, first.stdout[-3000:]

    _load(warehouse, generated)  # the last two days' files
    second = _dbt(warehouse, "build")
    assert second.returncode == 0, second.stdout[-3000:]
    reclustered = re.search(r"recluster_identities: (\d+) of (\d+) nodes", second.stdout)
    assert reclustered, second.stdout[-3000:]
    assert 0 < int(reclustered[1]) < int(reclustered[2]) / 2, "only the touched components are clustered again"
    incremental = _clusters(warehouse)

    # The same warehouse, keyed, clustered and assigned from scratch: the same clusters and dropped links, every
    # record with the same key and the same customer.
    scratch = tmp_path / "scratch.duckdb"
    shutil.copy(warehouse, scratch)
    rebuilt = _dbt(scratch, "run", "--full-refresh", "-s", "int_identity_records_keyed+")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    assert "recluster_identities" not in rebuilt.stdout
    assert _clusters(scratch) == incremental
    assert _records(scratch) == _records(warehouse)

    # The re-exported sources staged from the new files only, the timeline updated in place, the golden-record
    # candidates ranked again and the engagement computed again for the touched customers only (and those whose
    # windows the two days' move of the reference time swept over) hold what building them from everything holds.
    restaged = tmp_path / "restaged.duckdb"
    shutil.copy(warehouse, restaged)
    models = [*RE_EXPORTED, "customer_events", "int_profile_attributes_ranked", "int_customer_engagement"]
    rebuilt = _dbt(restaged, "run", "--full-refresh", "-s", *models)
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    for model in models:
        assert _rows(restaged, model) == _rows(warehouse, model), model

    # A changed survivorship rule ranks every customer again, as ranking from scratch does.
    ranked, before = "int_profile_attributes_ranked", _rows(warehouse, "int_profile_attributes_ranked")
    reordered = "{survivorship_source_priority: [web_events, app_events, support_tickets, loyalty_members, orders]}"
    assert _dbt(warehouse, "run", "-s", ranked, "--vars", reordered).returncode == 0
    assert _dbt(restaged, "run", "--full-refresh", "-s", ranked, "--vars", reordered).returncode == 0
    assert _rows(warehouse, ranked) == _rows(restaged, ranked) != before

    # The reference time moved on so that the first days' events leave the 30-day window, then the 90-day one,
    # then back to before the newest events (everyone is computed again): each time what computing everyone
    # from scratch gives. (The events span six days.)
    engagement, before = "int_customer_engagement", _rows(warehouse, "int_customer_engagement")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        as_of = con.execute("select as_of from intermediate.int_traits_reference_time").fetchone()[0]
    for moved in (as_of + timedelta(days=27), as_of + timedelta(days=92), as_of - timedelta(days=3)):
        pinned = f"{{traits_as_of: '{moved}'}}"
        models = ["int_traits_reference_time", engagement]
        assert _dbt(warehouse, "run", "-s", *models, "--vars", pinned).returncode == 0
        assert _dbt(restaged, "run", "--full-refresh", "-s", *models, "--vars", pinned).returncode == 0
        assert _rows(warehouse, engagement) == _rows(restaged, engagement) != before

    # The blocklist matched once per value holds what matching every value gives, after the new files and after
    # a rule added to the seed (which matches every value again, and drops what the old rules left).
    matches = "int_identifier_rule_matches"
    assert _dbt(restaged, "run", "--full-refresh", "-s", matches).returncode == 0
    assert _rule_matches(warehouse) == _rule_matches(restaged)
    for copy in (warehouse, restaged):
        with duckdb.connect(str(copy)) as con:
            con.execute("insert into staging.blocked_identifiers values ('email', 'regex', '^[a-d]', 'a test rule')")
    assert _dbt(warehouse, "run", "-s", matches).returncode == 0
    assert _dbt(restaged, "run", "--full-refresh", "-s", matches).returncode == 0
    assert _rule_matches(warehouse) == _rule_matches(restaged)
    assert any(reason == "a test rule" for _, _, reason in _rule_matches(warehouse))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(f"select count(distinct _rules) from intermediate.{matches}").fetchone() == (1,)


def _rule_matches(warehouse: Path) -> set[tuple]:
    """The values a rule of the blocklist matches, of those still seen, with the rule's reason."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return set(
            con.execute(
                "select identifier_type, identifier_value, rule_reason from intermediate.int_identifier_rule_matches"
                " as matched where rule_reason is not null and exists (select 1 from"
                " intermediate.int_identifiers_extracted as seen where seen.identifier_type = matched.identifier_type"
                " and seen.identifier_value = matched.identifier_value)"
            ).fetchall()
        )


RE_EXPORTED = ["stg_crm__contacts", "stg_shop__orders", "stg_loyalty__members", "stg_helpdesk__tickets"]


def _rows(warehouse: Path, model: str) -> list[str]:
    """Every row of a model but its build stamps, each as its repr (some columns hold lists), in order."""
    schema = "marts" if model == "customer_events" else "staging" if model.startswith("stg_") else "intermediate"
    # A customer whose engagement no move of the reference time changed keeps the one it was computed as of.
    stamps = {
        "int_profile_attributes_ranked": "_built_at, _survivorship_rule",
        "int_customer_engagement": "_built_at, _as_of",
    }.get(model, "_built_at")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(map(repr, con.execute(f"select * exclude ({stamps}) from {schema}.{model}").fetchall()))


def _records(warehouse: Path) -> list[set[tuple]]:
    """Every record's identifiers and key, every record's customer, and the mart of them."""
    queries = [
        "select source, source_record_id, node_id, key_node_id from intermediate.int_identity_records_keyed",
        "select source, source_record_id, customer_id from intermediate.int_source_records_assigned",
        "select source, source_record_id, customer_id from marts.customer_source_records",
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [set(con.execute(query).fetchall()) for query in queries]
