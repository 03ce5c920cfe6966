"""What one destination does that the shared contract (test_destination_contract.py) cannot say for all:
where mapped fields land, asynchronous jobs, replace sessions, deletion in mirror mode."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest

from reverse_etl.engine import run_syncs
from reverse_etl.hashing import mailchimp_subscriber_hash, sha256
from reverse_etl.standins.braze import BrazeStandIn
from reverse_etl.standins.google_ads import GoogleAdsStandIn
from reverse_etl.standins.hubspot import HubSpotStandIn
from reverse_etl.standins.klaviyo import KlaviyoStandIn
from reverse_etl.standins.mailchimp import MailchimpStandIn
from reverse_etl.standins.meta import MetaStandIn
from reverse_etl.standins.salesforce import SalesforceStandIn

from .test_destination_contract import CASES, definition, people

CASE = {case.name: case for case in CASES}


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for case in CASES:
        for variable, value in case.env.items():
            monkeypatch.setenv(variable, value)


def drop(warehouse, customer_id: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from activation.sync_people where customer_id = ?", [customer_id])


def test_hubspot_contacts_carry_the_mapped_properties_as_strings(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 8)
    with HubSpotStandIn("pat-test") as hubspot:
        run_syncs(warehouse, [definition(tmp_path, CASE["hubspot"], hubspot.url)])
        contact = hubspot.contacts[hubspot.by_email["person7@example.org"]]
    assert contact["properties"] == {"email": "person7@example.org", "firstname": "Name7", "tessera_source": "tessera"}


def test_klaviyo_waits_for_its_import_job_and_reads_every_page_of_import_errors(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 5)
    with duckdb.connect(str(warehouse)) as con:  # 150 more with addresses Klaviyo refuses: two pages of errors
        con.execute(
            "insert into activation.sync_people by name select 'x' || i as customer_id, 'broken-' || i as email, "
            "true as consent_email_marketing, true as consent_advertising, false as is_suppressed from range(150) t(i)"
        )
    with KlaviyoStandIn("pk_test", processing_seconds=0.2) as klaviyo:
        [result] = run_syncs(warehouse, [definition(tmp_path, CASE["klaviyo"], klaviyo.url)])
        polls = [path for method, path, _ in klaviyo.requests if method == "GET" and path.count("/") == 3]
        pages = [path for method, path, _ in klaviyo.requests if path.endswith("import-errors")]
        profile = klaviyo.profiles[klaviyo.by_email["person3@example.org"]]
    assert (result.accepted, result.rejected) == (5, 150)
    assert len(polls) >= 2, "the batch is acknowledged only once the job is complete"
    assert len(pages) == 2
    assert profile["location"] == {"city": "Paris"} and profile["properties"] == {"tier": "gold"}


def test_meta_full_resync_in_mirror_mode_replaces_the_audience_in_one_ordered_session(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 5)
    case = CASE["meta"]
    mirror = dataclasses.replace(case, mode="mirror")
    with MetaStandIn("meta-test") as meta:
        sync = definition(tmp_path, mirror, meta.url, batch_size=2)
        run_syncs(warehouse, [sync])
        meta.audiences["2385"].add(frozenset({("EMAIL", sha256("added.elsewhere@example.org"))}))
        drop(warehouse, "c4")
        [result] = run_syncs(warehouse, [sync], full=True)
        sessions = [body["session"] for method, path, body in meta.requests if path.endswith("/usersreplace")]
        assert meta.members("2385") == {sha256(f"person{i}@example.org") for i in range(4)}
    assert (result.status, result.accepted, result.skipped) == ("succeeded", 4, 1), result.error
    assert [(s["batch_seq"], s["last_batch_flag"]) for s in sessions] == [(1, False), (2, True)]
    assert {s["session_id"] for s in sessions} == {sessions[0]["session_id"]}
    assert all(s["estimated_num_total"] == 4 for s in sessions)


def test_google_ads_runs_one_job_per_batch_with_the_consent_the_rows_carry(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 3)
    with GoogleAdsStandIn("goog-test", "dev-test") as google:
        run_syncs(warehouse, [definition(tmp_path, CASE["google_ads"], google.url)])
        verbs = [path.rsplit(":", 1)[1] for _, path, _ in google.requests]
        [(_, _, created)] = [request for request in google.requests if request[1].endswith(":create")]
        [(_, _, added)] = [request for request in google.requests if request[1].endswith(":addOperations")]
    assert verbs == ["create", "addOperations", "run"]
    metadata = created["job"]["customerMatchUserListMetadata"]
    assert metadata["consent"] == {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}
    identifiers = added["operations"][0]["create"]["userIdentifiers"]
    assert identifiers[1] == {"hashedPhoneNumber": sha256("+33600000000")}
    assert (
        identifiers[2]["addressInfo"]["countryCode"] == "FR" and identifiers[2]["addressInfo"]["postalCode"] == "75001"
    )


def test_mailchimp_mirror_archives_a_removed_member_by_its_subscriber_hash(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 3)
    case = CASE["mailchimp"]
    mirror = dataclasses.replace(case, mode="mirror")
    with MailchimpStandIn("abc123-us21") as mailchimp:
        sync = definition(tmp_path, mirror, mailchimp.url)
        run_syncs(warehouse, [sync])
        drop(warehouse, "c1")
        run_syncs(warehouse, [sync])
        deletes = [path for method, path, _ in mailchimp.requests if method == "DELETE"]
        remaining = mailchimp.list_emails("a1b2")
    assert deletes == [f"/3.0/lists/a1b2/members/{mailchimp_subscriber_hash('person1@example.org')}"]
    assert remaining == {"person0@example.org", "person2@example.org"}


def test_braze_mirror_deletes_removed_users_at_most_50_a_call(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 60)
    case = CASE["braze"]
    mirror = dataclasses.replace(case, mode="mirror")
    with BrazeStandIn("braze-test") as braze:
        sync = definition(tmp_path, mirror, braze.url)
        run_syncs(warehouse, [sync])
        people(warehouse, 5)
        [result] = run_syncs(warehouse, [sync])
        deletes = [len(body["external_ids"]) for _, path, body in braze.requests if path == "/users/delete"]
        remaining = set(braze.users)
    assert result.accepted == 55 and sorted(deletes) == [5, 50]
    assert remaining == {f"c{i}" for i in range(5)}


def test_salesforce_mirror_deletes_removed_records_found_by_external_id(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 3)
    with SalesforceStandIn("sf-test") as salesforce:
        sync = definition(tmp_path, CASE["salesforce"], salesforce.url)
        run_syncs(warehouse, [sync])
        drop(warehouse, "c2")
        run_syncs(warehouse, [sync])
        records = salesforce.by_external_id("Tessera_Id__c")
    assert set(records) == {"c0", "c1"}
    assert records["c0"]["Email"] == "person0@example.org" and records["c0"]["attributes"] == {"type": "Contact"}


def test_a_row_without_the_key_the_vendor_needs_is_rejected_once_without_a_call(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 2)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update activation.sync_people set email = null where customer_id = 'c1'")
    with HubSpotStandIn("pat-test") as hubspot:
        sync = definition(tmp_path, CASE["hubspot"], hubspot.url)
        [first] = run_syncs(warehouse, [sync])
        [again] = run_syncs(warehouse, [sync])
        with duckdb.connect(str(warehouse)) as con:
            con.execute("update activation.sync_people set email = 'found@example.org' where customer_id = 'c1'")
        [changed] = run_syncs(warehouse, [sync])
        upserted = [len(body["inputs"]) for _, path, body in hubspot.requests if path.endswith("batch/upsert")]
    assert (first.accepted, first.rejected, first.sent) == (1, 1, 1)
    assert first.reasons == {"email is missing (HubSpot contacts are keyed by it)": 1}
    assert (again.planned, again.rejected, again.not_sendable) == (0, 0, 1), "recorded once, not planned again"
    assert (changed.accepted, changed.not_sendable) == (1, 0), "until the row changes"
    assert upserted == [1, 1], "the row reached HubSpot only once it had an email"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from reverse_etl.sync_not_sendable").fetchone() == (0,)


def test_a_withdrawal_in_upsert_mode_clears_the_marketing_fields_the_crm_and_email_tool_keep(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 2)
    hubspot_case = dataclasses.replace(CASE["hubspot"], mode="upsert")
    mailchimp_case = dataclasses.replace(CASE["mailchimp"], mode="upsert")
    with HubSpotStandIn("pat-test") as hubspot, MailchimpStandIn("abc123-us21") as mailchimp:
        syncs = [definition(tmp_path, hubspot_case, hubspot.url), definition(tmp_path, mailchimp_case, mailchimp.url)]
        run_syncs(warehouse, syncs)
        with duckdb.connect(str(warehouse)) as con:
            con.execute("update activation.sync_people set consent_email_marketing = false where customer_id = 'c1'")
        results = run_syncs(warehouse, syncs)
        again = run_syncs(warehouse, syncs)
        contact = hubspot.contacts[hubspot.by_email["person1@example.org"]]["properties"]
        member = mailchimp.members["a1b2"][mailchimp_subscriber_hash("person1@example.org")]
        kept = mailchimp.members["a1b2"][mailchimp_subscriber_hash("person0@example.org")]
    assert [(r.status, r.accepted) for r in results] == [("succeeded", 1), ("succeeded", 1)]
    assert [r.planned for r in again] == [0, 0], "withdrawn once, not again"
    assert contact["firstname"] == "" and contact["email"] == "person1@example.org"
    assert member["status"] == "unsubscribed" and member["merge_fields"]["FNAME"] == ""
    assert kept["status"] == "subscribed" and kept["merge_fields"]["FNAME"] == "Name0"


def test_klaviyo_clears_a_withdrawn_profiles_attributes_and_properties_in_upsert_mode(tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 2)
    case = dataclasses.replace(CASE["klaviyo"], mode="upsert")
    with KlaviyoStandIn("pk_test") as klaviyo:
        sync = definition(tmp_path, case, klaviyo.url)
        run_syncs(warehouse, [sync])
        with duckdb.connect(str(warehouse)) as con:
            con.execute("update activation.sync_people set consent_email_marketing = false where customer_id = 'c1'")
        [result] = run_syncs(warehouse, [sync])
        withdrawn = klaviyo.profiles[klaviyo.by_email["person1@example.org"]]
        kept = klaviyo.profiles[klaviyo.by_email["person0@example.org"]]
    assert (result.status, result.accepted) == ("succeeded", 1), result.error
    assert "first_name" not in withdrawn and withdrawn["properties"] == {} and withdrawn.get("location") == {}
    assert kept["first_name"] == "Name0" and kept["properties"] == {"tier": "gold"}
