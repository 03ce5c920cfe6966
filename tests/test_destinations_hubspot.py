"""HubSpot through the sync engine, against its stand-in (which validates every request against HubSpot's
published OpenAPI spec and enforces its batch limit, auth and rate limit)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from reverse_etl.definitions import SyncDefinition, load_definitions
from reverse_etl.destinations import DESTINATIONS
from reverse_etl.engine import run_syncs
from reverse_etl.standins.hubspot import HubSpotStandIn

TOKEN = "pat-test-token"


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotStandIn]:
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", TOKEN)
    with HubSpotStandIn(TOKEN) as stand_in:
        yield stand_in


def model(warehouse: Path, rows: list[tuple]) -> None:
    """activation.sync_people: (customer_id, email, first_name, consent_email_marketing, is_suppressed)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists activation")
        con.execute(
            "create or replace table activation.sync_people (customer_id varchar, email varchar, first_name varchar, "
            "consent_email_marketing boolean, is_suppressed boolean)"
        )
        if rows:
            con.executemany("insert into activation.sync_people values (?, ?, ?, ?, ?)", rows)


def sync(tmp_path: Path, url: str, mode: str = "upsert", **settings: object) -> SyncDefinition:
    extra = "".join(f", {key}: {value}" for key, value in settings.items())
    text = f"""
    syncs:
      - name: people_to_hubspot
        model: sync_people
        destination: {{type: hubspot, base_url: "{url}", token: {{env: TEST_HUBSPOT_TOKEN}},
                       retry_attempts: 4, retry_base_seconds: 0.01{extra}}}
        mode: {mode}
        primary_key: customer_id
        mapping: {{email: email, firstname: first_name, tessera_source: {{constant: tessera}}}}
        consent: email_marketing
    """
    folder = tmp_path / "syncs"
    folder.mkdir(exist_ok=True)
    (folder / "hubspot.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    modes = {name: cls.modes for name, cls in DESTINATIONS.items()}
    [definition] = load_definitions(folder, destination_types=modes, purposes=["email_marketing"])
    return definition


def people(count: int, start: int = 0) -> list[tuple]:
    return [(f"c{i}", f"person{i}@example.org", f"Name{i}", True, False) for i in range(start, start + count)]


def test_contacts_are_upserted_in_batches_of_at_most_100_that_conform_to_the_spec(
    tmp_path: Path, hubspot: HubSpotStandIn
) -> None:
    warehouse = tmp_path / "w.duckdb"
    model(warehouse, people(250))
    [result] = run_syncs(warehouse, [sync(tmp_path, hubspot.url)])
    assert (result.status, result.accepted) == ("succeeded", 250), result.error
    batches = [len(body["inputs"]) for method, path, body in hubspot.requests if path.endswith("batch/upsert")]
    assert sorted(batches, reverse=True) == [100, 100, 50]  # up to 4 in flight: any order
    contact = hubspot.contacts[hubspot.by_email["person7@example.org"]]
    assert contact["properties"] == {"email": "person7@example.org", "firstname": "Name7", "tessera_source": "tessera"}


def test_a_partial_failure_rejects_exactly_the_failed_rows(tmp_path: Path, hubspot: HubSpotStandIn) -> None:
    warehouse = tmp_path / "w.duckdb"
    model(warehouse, [*people(3), ("bad", "not-an-email", "Bad", True, False)])
    [result] = run_syncs(warehouse, [sync(tmp_path, hubspot.url)])
    assert (result.accepted, result.rejected) == (3, 1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rejected = con.execute(
            "select record_key, error from reverse_etl.sync_row_results where status = 'rejected'"
        ).fetchall()
    assert rejected == [("bad", "VALIDATION_ERROR (INVALID_EMAIL)")], "HubSpot's category, never the value"


def test_429s_and_5xx_are_retried_until_hubspot_accepts(tmp_path: Path, hubspot: HubSpotStandIn) -> None:
    warehouse = tmp_path / "w.duckdb"
    model(warehouse, people(5))
    hubspot.faults.status_storm = [429, 429, 502]
    [result] = run_syncs(warehouse, [sync(tmp_path, hubspot.url)])
    assert (result.status, result.accepted) == ("succeeded", 5)


def test_a_wrong_token_fails_the_sync_with_a_clear_message(
    tmp_path: Path, hubspot: HubSpotStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "w.duckdb"
    model(warehouse, people(2))
    definition = sync(tmp_path, hubspot.url)
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", "wrong")
    [result] = run_syncs(warehouse, [definition])
    assert result.status == "failed" and "HubSpot refused the token (HTTP 401)" in result.error
    assert hubspot.contacts == {}


def test_the_stand_in_refuses_a_request_off_the_spec(hubspot: HubSpotStandIn) -> None:
    import httpx

    response = httpx.post(
        f"{hubspot.url}/crm/v3/objects/contacts/batch/upsert",
        json={"inputs": [{"idProperty": "email", "properties": {"email": "a@b.co"}}]},  # no `id`
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


def test_an_audience_follows_consent_in_a_hubspot_list(tmp_path: Path, hubspot: HubSpotStandIn) -> None:
    warehouse = tmp_path / "w.duckdb"
    definition = sync(tmp_path, hubspot.url, mode="audience", list_id="'42'")
    model(warehouse, people(3))
    run_syncs(warehouse, [definition])
    assert hubspot.list_members("42") == {f"person{i}@example.org" for i in range(3)}
    model(warehouse, [*people(2), ("c2", "person2@example.org", "Name2", False, False)])  # c2 withdraws consent
    [result] = run_syncs(warehouse, [definition])
    assert result.accepted == 1 and hubspot.list_members("42") == {"person0@example.org", "person1@example.org"}
