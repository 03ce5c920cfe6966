"""What marketers activate, end to end through `tessera run`: consent, erasure, suppression and segments.

One landing folder goes through four runs, each adding files as the systems would:
1. the small demo data, plus an anonymous visitor who browsed a lot today and accepted the cookie banner;
2. the visitor withdraws advertising consent; one customer asks to be erased, another to be suppressed, and
   someone nobody knows asks to be erased;
3. the CRM exports a new contact for the erased person (their data arrives again after the request);
4. nothing new.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.test_pipeline import tessera

pytestmark = pytest.mark.pipeline

COOKIE = "7e57c0de-0000-4000-8000-000000000001"
ADVERTISING_SEGMENTS_SQL = "select segment_name from marts.segments where consent_purpose = 'advertising'"


@dataclass
class Runs:
    warehouse: Path
    landing: Path
    outputs: list[str]
    erased: dict[str, str]
    suppressed_email: str
    visitor: str
    changes_after: list[int]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def query(warehouse: Path, sql: str, *parameters: object) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, list(parameters)).fetchall()


def run(runs: Runs) -> None:
    result = tessera("run", warehouse=runs.warehouse, landing=runs.landing)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    runs.outputs.append(result.stdout)
    runs.changes_after.append(query(runs.warehouse, "select count(*) from marts.segment_membership_changes")[0][0])


def browsing_visitor() -> str:
    views = [
        {
            "type": "track", "messageId": f"7e57-view-{minute}", "anonymousId": COOKIE,
            "timestamp": f"2026-10-07T10:{minute:02d}:00.000Z", "event": "Product Viewed",
            "properties": {"product_id": "SKU-1", "category": "footwear"},
            "context": {"page": {"url": "https://shop.example/p/1", "path": "/p/1"}},
        }
        for minute in (0, 5, 10)
    ]  # fmt: skip
    return "".join(json.dumps(view) + "\n" for view in views)


def consent(event_id: str, status: str, at: str) -> str:
    decision = {
        "event_id": event_id, "subject": {"anonymous_id": COOKIE}, "purpose": "advertising", "status": status,
        "source": "web_banner", "occurred_at": at,
    }  # fmt: skip
    return json.dumps(decision) + "\n"


@pytest.fixture(scope="module")
def runs(small_landing, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    source, _ = small_landing
    work = tmp_path_factory.mktemp("activation")
    landing = work / "landing"
    shutil.copytree(source, landing)
    runs = Runs(work / "tessera.duckdb", landing, [], {}, "", "", [])

    write(landing / "web_events" / "web_events_2026-10-07.jsonl", browsing_visitor())
    write(
        landing / "consent_events" / "consent_events_2026-10-07.jsonl",
        consent("7e57-banner", "granted", "2026-10-07T09:59:00.000Z"),
    )
    run(runs)
    [(runs.visitor,)] = query(
        runs.warehouse,
        "select customer_id from marts.customer_identities where identifier_type = 'anonymous_id' "
        "and identifier_value = ?",
        COOKIE,
    )
    people = query(
        runs.warehouse,
        """
        select customer_id, email, phone, first_name, last_name
        from marts.customer_profiles as p
        where email is not null and phone is not null and first_name is not null and last_name is not null
            -- nobody else's name or email holds both their names, so that a search for them finds only them
            and (select count(*) from marts.customer_profiles as o
                 where o.first_name = p.first_name and o.last_name = p.last_name) = 1
            and not exists (
                select 1 from marts.customer_identities as i
                where i.customer_id <> p.customer_id
                    and contains(i.identifier_value, lower(strip_accents(p.first_name)))
                    and contains(i.identifier_value, lower(strip_accents(p.last_name)))
            )
        order by lifetime_value desc, customer_id
        limit 2
        """,
    )
    (erased_id, email, phone, first, last), (_, runs.suppressed_email, *_) = people
    runs.erased = {"customer_id": erased_id, "email": email, "phone": phone, "first": first, "last": last}

    write(
        landing / "consent_events" / "consent_events_2026-10-08.jsonl",
        consent("7e57-withdrawal", "withdrawn", "2026-10-08T08:00:00.000Z"),
    )
    write(
        landing / "erasure_requests" / "erasure_requests_2026-10-08.csv",
        "request_id,email,phone,user_id,requested_at,type\n"
        f"ER-T1,{email.upper()},,,2026-10-08T09:00:00Z,erase\n"
        f"ER-T2,{runs.suppressed_email},,,2026-10-08T09:00:00Z,suppress\n"
        "ER-T3,nobody-we-know@example.org,,,2026-10-08T09:00:00Z,erase\n",
    )
    run(runs)

    write(
        landing / "crm_contacts" / "crm_contacts_2026-10-09.csv",
        "contact_id,first_name,last_name,email,phone,company,street,city,postal_code,country,lifecycle_stage,"
        "created_at,updated_at\n"
        f"C-RETURNS,{first},{last},{email},{phone},,1 Rue Neuve,Paris,75001,FR,lead,2026-10-09 08:00:00,"
        "2026-10-09 08:00:00\n",
    )
    run(runs)
    run(runs)
    return runs


def test_the_visitor_was_in_an_advertising_segment_before_withdrawing(runs: Runs) -> None:
    entered = query(
        runs.warehouse,
        f"select segment_name from marts.segment_membership_changes where customer_id = ? and change = 'entered' "
        f"and segment_name in ({ADVERTISING_SEGMENTS_SQL})",
        runs.visitor,
    )
    assert ("high_intent_anonymous_visitors",) in entered


def test_a_withdrawal_of_advertising_consent_leaves_every_advertising_segment_on_the_next_run(runs: Runs) -> None:
    [(consented,)] = query(
        runs.warehouse, "select consent_advertising from marts.customer_profiles where customer_id = ?", runs.visitor
    )
    assert consented is False
    still_in = query(
        runs.warehouse,
        f"select segment_name from marts.segment_memberships where customer_id = ? "
        f"and segment_name in ({ADVERTISING_SEGMENTS_SQL})",
        runs.visitor,
    )
    assert still_in == []
    exits = query(
        runs.warehouse,
        "select segment_name, run_id from marts.segment_membership_changes where customer_id = ? and change = 'exited'",
        runs.visitor,
    )
    assert [name for name, _ in exits] == ["high_intent_anonymous_visitors"]
    [(in_effect,)] = query(
        runs.warehouse,
        "select consent_decision_id from marts.consent_decisions where customer_id = ? and purpose = 'advertising' "
        "and is_in_effect",
        runs.visitor,
    )
    assert in_effect == "7e57-withdrawal"


def personal_data_found(warehouse: Path, erased: dict[str, str]) -> list[str]:
    """Every table of every schema searched, whole rows as text, for the person's data."""
    needles = {
        "email": [erased["email"].lower()],
        "phone": [erased["phone"].lower(), erased["phone"].lstrip("+")],
        "name": [erased["first"].lower(), erased["last"].lower()],  # both in one row
    }
    found = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema not in ('information_schema', 'pg_catalog')"
        ).fetchall()
        assert len(tables) >= 40
        for (table,) in tables:
            for what, values in needles.items():
                if what == "name":
                    condition = " and ".join("contains(lower(cast(r as varchar)), ?)" for _ in values)
                    hits = con.execute(f"select count(*) from {table} as r where {condition}", values).fetchone()[0]
                else:
                    condition = " or ".join("contains(lower(cast(r as varchar)), ?)" for _ in values)
                    hits = con.execute(f"select count(*) from {table} as r where {condition}", values).fetchone()[0]
                if hits:
                    found.append(f"{table}: {hits} row(s) with the erased person's {what}")
    return found


def test_an_erased_person_leaves_no_personal_data_in_any_mart_even_when_their_data_arrives_again(runs: Runs) -> None:
    assert personal_data_found(runs.warehouse, runs.erased) == []
    [(is_erased, is_suppressed, email)] = query(
        runs.warehouse,
        "select is_erased, is_suppressed, email from marts.customer_profiles where customer_id = ?",
        runs.erased["customer_id"],
    )
    assert (is_erased, is_suppressed, email) == (True, True, None)
    assert query(runs.warehouse, "select status from marts.privacy_requests where request_id = 'ER-T1'") == [
        ("applied",)
    ]
    # The CRM's new contact (run 3) was recognised by the erased person's tombstones, erased, and removed with
    # the rest of their records: it brought nobody back.
    for table, column in [("intermediate.int_source_records_assigned", "source_record_id"),
                          ("raw.crm_contacts", "contact_id")]:  # fmt: skip
        assert query(runs.warehouse, f"select count(*) from {table} where {column} = 'C-RETURNS'") == [(0,)]
    [(removed,)] = query(
        runs.warehouse, "select records_removed_at from marts.privacy_requests where request_id = 'ER-T1'"
    )
    assert removed is not None


def test_a_suppressed_person_keeps_their_data_and_is_in_no_segment(runs: Runs) -> None:
    [(customer_id, is_suppressed, is_erased)] = query(
        runs.warehouse,
        "select customer_id, is_suppressed, is_erased from marts.customer_profiles where email = ?",
        runs.suppressed_email,
    )
    assert (is_suppressed, is_erased) == (True, False)
    assert query(runs.warehouse, "select * from marts.segment_memberships where customer_id = ?", customer_id) == []


def test_a_request_that_matches_nobody_is_reported(runs: Runs) -> None:
    assert query(runs.warehouse, "select status from marts.privacy_requests where request_id = 'ER-T3'") == [
        ("matched nobody",)
    ]
    assert "privacy_requests_match_a_customer" in runs.outputs[1]


def test_a_run_with_nothing_new_records_no_segment_change(runs: Runs) -> None:
    assert runs.changes_after[3] == runs.changes_after[2]
    assert runs.changes_after[0] > 0


def test_every_profile_has_its_traits(runs: Runs) -> None:
    [(profiles, rfm_missing, buyers_without_rfm, consent_nulls)] = query(
        runs.warehouse,
        """
        select count(*),
            count(*) filter (where rfm_segment is null),
            count(*) filter (where purchases_count > 0 and rfm_segment = 'Never purchased'),
            count(*) filter (where consent_email_marketing is null or consent_advertising is null)
        from marts.customer_profiles
        """,
    )
    assert profiles > 300 and rfm_missing == 0 and buyers_without_rfm == 0 and consent_nulls == 0


def test_the_segment_report_shows_sizes_changes_and_overlap_and_draws_the_chart(runs: Runs, tmp_path: Path) -> None:
    chart = tmp_path / "sizes.png"
    result = tessera("segments", "--chart", str(chart), warehouse=runs.warehouse, landing=runs.landing)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("cart_abandoners_7d", "high_intent_anonymous_visitors", "vip_loyalty_members", "Overlap"):
        assert name in result.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")
