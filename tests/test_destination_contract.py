"""One contract every SaaS destination passes against its stand-in, through the sync engine.

Each stand-in validates every request against the vendor's published spec (HubSpot, Klaviyo) or a JSON Schema
written from the vendor's documentation, and enforces its auth, batch limits, rate limits and partial failures.
A destination passes when: calls stay within the vendor's limit per call; a wrong credential stops the sync
with a clear message and sends nothing; the vendor's throttling answer and 5xx are retried until it accepts;
a request stalled after the vendor committed is retried without a duplicate; a row the vendor refuses alone is
rejected alone, with the vendor's code and never the value, and retried on the next run; a person who loses
consent leaves the destination; an erased person leaves no trace there, through the vendor's own deletion, in
every mode the destination supports, and the delivery is recorded.
"""

from __future__ import annotations

import base64
import dataclasses
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from reverse_etl.destinations import DESTINATIONS
from reverse_etl.engine import SyncResult, run_syncs
from reverse_etl.hashing import sha256
from reverse_etl.standins.base import StandIn
from reverse_etl.standins.braze import BrazeStandIn
from reverse_etl.standins.google_ads import GoogleAdsStandIn
from reverse_etl.standins.hubspot import HubSpotStandIn
from reverse_etl.standins.klaviyo import KlaviyoStandIn
from reverse_etl.standins.mailchimp import MailchimpStandIn
from reverse_etl.standins.meta import MetaStandIn
from reverse_etl.standins.salesforce import SalesforceStandIn
from reverse_etl.sync_files import SyncDefinition, load_definitions

PURPOSES = ["email_marketing", "advertising"]
FAST_RETRIES = "retry_attempts: 5, retry_base_seconds: 0.01"


def _sizes(requests: list[tuple[str, str, Any]], method: str, match: Callable[[str], bool], count) -> list[int]:
    return [count(body) for verb, path, body in requests if verb == method and match(path)]


@dataclass(frozen=True)
class Case:
    """How one destination meets the contract: its stand-in, its sync, and where to look in the stand-in."""

    name: str
    stand_in: Callable[[], StandIn]
    env: dict[str, str]  # the credentials the stand-in expects, by variable
    destination: str  # the YAML of the destination's settings, `{url}` for the stand-in's address
    mode: str
    mapping: str
    consent: str
    held: Callable[[Any], set[str]]  # what the destination holds for the sync, as `key(i)` values
    key: Callable[[int], str]  # what holding person i looks like there
    batch_rows: Callable[[Any], list[int]]  # rows in each write call the stand-in received
    limit: int  # the vendor's documented rows per write call
    bad: dict[str, str]  # column values the vendor refuses for that row alone
    off_spec: tuple[str, str, dict[str, Any]]  # a request off the vendor's spec: method, path, body
    auth: dict[str, str] = field(default_factory=dict)  # headers that authenticate a raw request
    throttling_retried: bool = True  # False where the vendor's throttling answer means "not before tomorrow"
    holds: Callable[[Any, int], bool] = lambda stand_in, i: False  # anything of person i anywhere in the stand-in


def email(i: int) -> str:
    return f"person{i}@example.org"


CASES = [
    Case(
        name="hubspot",
        stand_in=lambda: HubSpotStandIn("pat-test"),
        env={"T_HUBSPOT_TOKEN": "pat-test"},
        destination='{type: hubspot, token: {env: T_HUBSPOT_TOKEN}, list_id: "42"}',
        mode="audience",
        mapping="{email: email, firstname: first_name, tessera_source: {constant: tessera}}",
        consent="email_marketing",
        held=lambda s: s.list_members("42"),
        key=email,
        batch_rows=lambda s: _sizes(
            s.requests, "POST", lambda p: p.endswith("batch/upsert"), lambda b: len(b["inputs"])
        ),
        limit=100,
        bad={"email": "not-an-email"},
        off_spec=("POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": [{"properties": {}}]}),
        auth={"Authorization": "Bearer pat-test"},
        holds=lambda s, i: s.holds(email(i)),
    ),
    Case(
        name="klaviyo",
        stand_in=lambda: KlaviyoStandIn("pk_test"),
        env={"T_KLAVIYO_KEY": "pk_test"},
        destination="{type: klaviyo, api_key: {env: T_KLAVIYO_KEY}, list_id: Ly7, poll_seconds: 0.01}",
        mode="audience",
        mapping="{email: email, first_name: first_name, location.city: city, tier: {constant: gold}}",
        consent="email_marketing",
        held=lambda s: s.list_members("Ly7"),
        key=email,
        batch_rows=lambda s: _sizes(
            s.requests,
            "POST",
            lambda p: p.endswith("import-jobs"),
            lambda b: len(b["data"]["attributes"]["profiles"]["data"]),
        ),
        limit=10_000,
        bad={"email": "nope"},
        off_spec=("POST", "/api/profile-bulk-import-jobs", {"data": {"type": "profile-bulk-import-job"}}),
        auth={
            "Authorization": "Klaviyo-API-Key pk_test",
            "revision": "2026-07-15",
            "Content-Type": "application/vnd.api+json",
        },  # fmt: skip
        holds=lambda s, i: s.holds(email(i)),
    ),
    Case(
        name="meta",
        stand_in=lambda: MetaStandIn("meta-test"),
        env={"T_META_TOKEN": "meta-test"},
        destination='{type: meta_custom_audience, access_token: {env: T_META_TOKEN}, audience_id: "2385"}',
        mode="audience",
        mapping="{email: email, phone: phone, first_name: first_name, last_name: last_name, madid: madid}",
        consent="advertising",
        held=lambda s: s.members("2385"),
        key=lambda i: sha256(email(i)),
        batch_rows=lambda s: _sizes(
            s.requests, "POST", lambda p: p.endswith("/users"), lambda b: len(b["payload"]["data"])
        ),
        limit=10_000,
        bad={"madid": "not-a-device-id"},
        off_spec=("POST", "/v25.0/2385/users", {"payload": {"schema": ["NAME"], "data": [["x"]]}}),
        auth={"Authorization": "Bearer meta-test"},
        holds=lambda s, i: sha256(email(i)) in s.members("2385"),
    ),
    Case(
        name="google_ads",
        stand_in=lambda: GoogleAdsStandIn("goog-test", "dev-test"),
        env={"T_GOOGLE_TOKEN": "goog-test", "T_GOOGLE_DEV": "dev-test"},
        destination="{type: google_ads_customer_match, access_token: {env: T_GOOGLE_TOKEN}, "
        "developer_token: {env: T_GOOGLE_DEV}, customer_id: 123-456-7890, user_list_id: 77}",
        mode="audience",
        mapping="{email: email, phone: phone, first_name: first_name, last_name: last_name, country: country, "
        "zip: zip}",
        consent="advertising",
        held=lambda s: s.members("customers/1234567890/userLists/77"),
        key=lambda i: sha256(email(i)),
        batch_rows=lambda s: _sizes(
            s.requests, "POST", lambda p: p.endswith(":addOperations"), lambda b: len(b["operations"])
        ),
        limit=10_000,
        bad={"country": "ZZ"},
        off_spec=("POST", "/v21/customers/1/offlineUserDataJobs:create", {"job": {"type": "STORE_SALES_UPLOAD"}}),
        auth={"Authorization": "Bearer goog-test", "developer-token": "dev-test"},
        holds=lambda s, i: sha256(email(i)) in s.members("customers/1234567890/userLists/77"),
    ),
    Case(
        name="mailchimp",
        stand_in=lambda: MailchimpStandIn("abc123-us21"),
        env={"T_MAILCHIMP_KEY": "abc123-us21"},
        destination="{type: mailchimp, api_key: {env: T_MAILCHIMP_KEY}, list_id: a1b2, tag: VIP}",
        mode="audience",
        mapping="{email: email, fname: first_name, lname: last_name}",
        consent="email_marketing",
        held=lambda s: s.tagged("a1b2", "VIP"),
        key=email,
        batch_rows=lambda s: _sizes(s.requests, "POST", lambda p: p == "/3.0/lists/a1b2", lambda b: len(b["members"])),
        limit=500,
        bad={"email": "nope"},
        off_spec=("POST", "/3.0/lists/a1b2", {"members": [{"email_address": "a@example.org"}]}),
        auth={"Authorization": "Basic " + base64.b64encode(b"any:abc123-us21").decode()},
        holds=lambda s, i: s.holds(email(i)),
    ),
    Case(
        name="braze",
        stand_in=lambda: BrazeStandIn("braze-test"),
        env={"T_BRAZE_KEY": "braze-test"},
        destination="{type: braze, api_key: {env: T_BRAZE_KEY}, audience_name: vip}",
        mode="audience",
        mapping="{external_id: customer_id, email: email, first_name: first_name}",
        consent="email_marketing",
        held=lambda s: s.with_value("tessera_audiences", "vip"),
        key=lambda i: f"c{i}",
        batch_rows=lambda s: _sizes(s.requests, "POST", lambda p: p == "/users/track", lambda b: len(b["attributes"])),
        limit=75,
        bad={"email": "nope"},
        off_spec=("POST", "/users/track", {"attributes": [{"external_id": f"x{i}"} for i in range(76)]}),
        auth={"Authorization": "Bearer braze-test"},
        holds=lambda s, i: f"c{i}" in s.users,
    ),
    Case(
        name="salesforce",
        stand_in=lambda: SalesforceStandIn("sf-test"),
        env={"T_SF_TOKEN": "sf-test"},
        destination="{type: salesforce, access_token: {env: T_SF_TOKEN}, external_id_field: Tessera_Id__c}",
        mode="mirror",
        mapping="{Tessera_Id__c: customer_id, Email: email, FirstName: first_name, LastName: last_name}",
        consent="email_marketing",
        held=lambda s: set(s.by_external_id("Tessera_Id__c")),
        key=lambda i: f"c{i}",
        batch_rows=lambda s: _sizes(
            s.requests, "PATCH", lambda p: "/composite/sobjects/" in p, lambda b: len(b["records"])
        ),
        limit=200,
        bad={"email": "nope"},
        off_spec=(
            "PATCH",
            "/services/data/v62.0/composite/sobjects/Contact/Tessera_Id__c",
            {"records": [{"Email": "a"}]},
        ),
        auth={"Authorization": "Bearer sf-test"},
        throttling_retried=False,
        holds=lambda s, i: f"c{i}" in s.by_external_id("Tessera_Id__c"),
    ),
]


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def case(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Case:
    for variable, value in request.param.env.items():
        monkeypatch.setenv(variable, value)
    return request.param


@pytest.fixture
def stand_in(case: Case) -> Iterator[Any]:
    with case.stand_in() as running:
        yield running


def people(warehouse: Path, count: int, **bad_row: str) -> None:
    """activation.sync_people with `count` consenting people, and a last one with `bad_row`'s values if given."""
    columns = {
        "customer_id": "'c' || i",
        "email": "'person' || i || '@example.org'",
        "phone": "'+336' || lpad(i::varchar, 8, '0')",
        "first_name": "'Name' || i",
        "last_name": "'Martin'",
        "city": "'Paris'",
        "country": "'FR'",
        "zip": "'75001'",
        "madid": "lpad(i::varchar, 8, '0') || '-0000-4000-8000-000000000000'",
    }
    select = ", ".join(f"{expression} as {name}" for name, expression in columns.items())
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists activation")
        con.execute(
            f"create or replace table activation.sync_people as select {select}, true as consent_email_marketing, "
            f"true as consent_advertising, false as is_suppressed from range({count}) as t(i)"
        )
        if bad_row:
            values = {name: f"'{bad_row.get(name, '')}'" if name in bad_row else expr for name, expr in columns.items()}
            values["customer_id"] = "'bad'"
            select = ", ".join(f"{expression} as {name}" for name, expression in values.items())
            con.execute(
                f"insert into activation.sync_people select {select}, true, true, false "
                f"from range({count}, {count} + 1) t(i)"
            )


def definition(tmp_path: Path, case: Case, url: str, **settings: object) -> SyncDefinition:
    extra = "".join(f", {key}: {value}" for key, value in settings.items())
    destination = case.destination[:-1] + f', base_url: "{url}", {FAST_RETRIES}{extra}}}'
    text = f"""
    syncs:
      - name: contract_{case.name}
        model: sync_people
        destination: {destination}
        mode: {case.mode}
        primary_key: customer_id
        mapping: {case.mapping}
        consent: {case.consent}
    """
    folder = tmp_path / "syncs"
    folder.mkdir(exist_ok=True)
    (folder / "contract.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    modes = {name: cls.modes for name, cls in DESTINATIONS.items()}
    [sync] = load_definitions(folder, destination_types=modes, purposes=PURPOSES)
    return sync


def run(warehouse: Path, sync: SyncDefinition) -> SyncResult:
    [result] = run_syncs(warehouse, [sync])
    return result


def test_every_row_arrives_in_calls_within_the_vendors_limit(tmp_path: Path, case: Case, stand_in: Any) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, case.limit + 1)
    result = run(warehouse, definition(tmp_path, case, stand_in.url))
    assert (result.status, result.accepted, result.rejected) == ("succeeded", case.limit + 1, 0), result.error
    assert sorted(case.batch_rows(stand_in), reverse=True) == [case.limit, 1]
    assert case.held(stand_in) == {case.key(i) for i in range(case.limit + 1)}


def test_the_stand_in_refuses_a_request_off_the_vendors_spec(case: Case, stand_in: Any) -> None:
    method, path, body = case.off_spec
    response = httpx.request(method, stand_in.url + path, json=body, headers=case.auth)
    assert response.status_code == 400, response.text
    assert stand_in.requests == [], "nothing off the spec is applied"


def test_a_wrong_credential_stops_the_sync_and_sends_nothing(
    tmp_path: Path, case: Case, stand_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 3)
    sync = definition(tmp_path, case, stand_in.url)
    for variable in case.env:
        monkeypatch.setenv(variable, "wrong")
    result = run(warehouse, sync)
    assert result.status == "failed" and "refused" in result.error and "(HTTP 401)" in result.error, result.error
    assert "wrong" not in result.error, "the credential is never repeated"
    assert result.retryable is False, "a refused credential is fatal: no later attempt"
    assert stand_in.requests == [] and case.held(stand_in) == set()


def test_the_vendors_throttling_and_5xx_are_retried_until_it_accepts(tmp_path: Path, case: Case, stand_in: Any) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 5)
    sync = definition(tmp_path, case, stand_in.url)
    stand_in.faults.status_storm = [429, 500, 503]
    stand_in.faults.throttle_storm = 1
    result = run(warehouse, sync)
    if not case.throttling_retried:  # Salesforce: the org's allowance is spent; the sync stops, nothing lost
        assert result.status == "failed" and "REQUEST_LIMIT_EXCEEDED" in result.error
        assert result.retryable is False, "an exhausted allowance is fatal: retrying only spends it faster"
        result = run(warehouse, sync)
    assert (result.status, result.accepted) == ("succeeded", 5), result.error
    assert case.held(stand_in) == {case.key(i) for i in range(5)}


def test_a_call_that_timed_out_after_the_vendor_committed_is_retried_without_duplicates(
    tmp_path: Path, case: Case, stand_in: Any
) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 4)
    stand_in.faults.timeout_after_commit, stand_in.faults.stall_seconds = 1, 1.0
    result = run(warehouse, definition(tmp_path, case, stand_in.url, timeout_seconds=0.3))
    assert (result.status, result.accepted) == ("succeeded", 4), result.error
    assert case.held(stand_in) == {case.key(i) for i in range(4)}


def test_a_row_the_vendor_refuses_is_rejected_alone_and_retried_next_run(
    tmp_path: Path, case: Case, stand_in: Any
) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 3, **case.bad)
    sync = definition(tmp_path, case, stand_in.url)
    result = run(warehouse, sync)
    assert (result.status, result.accepted, result.rejected) == ("succeeded", 3, 1), result.error
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(key, error)] = con.execute(
            "select record_key, error from reverse_etl.sync_row_results where status = 'rejected'"
        ).fetchall()
    assert key == "bad" and error
    assert not any(value in error for value in case.bad.values()), f"the value leaked into {error!r}"
    assert case.held(stand_in) == {case.key(i) for i in range(3)}
    again = run(warehouse, sync)
    assert (again.sent, again.rejected) == (1, 1), "only the rejected row is sent again"


def test_a_person_who_withdraws_consent_leaves_the_destination(tmp_path: Path, case: Case, stand_in: Any) -> None:
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 3)
    sync = definition(tmp_path, case, stand_in.url)
    run(warehouse, sync)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update activation.sync_people set consent_{case.consent} = false where customer_id = 'c1'")
    result = run(warehouse, sync)
    assert (result.status, result.sent, result.accepted) == ("succeeded", 1, 1), result.error
    assert case.held(stand_in) == {case.key(0), case.key(2)}


def erase(warehouse: Path, customer_id: str) -> None:
    """An erasure request applied to `customer_id`, as the marts say it (and the person gone from the model)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.privacy_requests as select 'R-1' as request_id, 'erase' as request_type, "
            "timestamp '2026-11-30 10:00' as requested_at, ? as customer_id, 'applied' as status, "
            "1 as matched_records_count",
            [customer_id],
        )
        con.execute("delete from activation.sync_people where customer_id = ?", [customer_id])


@pytest.mark.parametrize("mode", ["case", "upsert"])
def test_an_erased_person_leaves_no_trace_at_the_destination_in_every_mode(
    tmp_path: Path, case: Case, stand_in: Any, mode: str
) -> None:
    if mode == "upsert":
        modes = DESTINATIONS[definition(tmp_path, case, stand_in.url).destination_type].modes
        if "upsert" not in modes:
            pytest.skip(f"{case.name} has no upsert mode ({', '.join(modes)})")
        case = dataclasses.replace(case, mode="upsert")
    warehouse = tmp_path / "w.duckdb"
    people(warehouse, 3)
    sync = definition(tmp_path, case, stand_in.url)
    run(warehouse, sync)
    assert all(case.holds(stand_in, i) for i in range(3))
    erase(warehouse, "c1")
    result = run(warehouse, sync)
    assert (result.status, result.erased, result.erasures_pending) == ("succeeded", 1, 0), result.error
    assert not case.holds(stand_in, 1), "the vendor still holds the erased person"
    assert case.holds(stand_in, 0) and case.holds(stand_in, 2)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        delivery = con.execute(
            "select request_id, customer_id, status, attempts, delivered_at is not null, record_key_hash "
            "from reverse_etl.erasure_deliveries"
        ).fetchall()
        state = con.execute("select fields_json from reverse_etl.sync_state where record_key = 'c1'").fetchall()
    assert [row[:5] for row in delivery] == [("R-1", "c1", "delivered", 1, True)]
    assert delivery[0][5] != "c1" and state == [], "once delivered, only the audit's hash of the key stays"
    again = run(warehouse, sync)
    assert (again.sent, again.erased) == (0, 0), "a delivered erasure is not sent again"
