"""Hostile and careless input to the loaders: every value that used to crash a source's loader (and every later
file of that source) is quarantined with its reason, or its file refused by name, and everything else loads.

The corpus is written by the tests themselves (`HOSTILE_JSON`, `hostile_csv`, ...), so that it is in the
repository and each case says what it is.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.demo_data.writer import ORDERS_SCHEMA
from orchestration.loading.warehouse import connect, ensure_raw_tables, load_source
from orchestration.sources import SOURCES_BY_NAME

WEB = SOURCES_BY_NAME["web_events"]
POS = SOURCES_BY_NAME["pos_transactions"]
ORDERS = SOURCES_BY_NAME["orders"]


def message(message_id: str, **changes: object) -> dict:
    return {"type": "page", "messageId": message_id, "anonymousId": "a-1", "timestamp": "2026-10-01T10:00:00Z",
            **changes}  # fmt: skip


# (what it is, the JSON line, what its quarantine reason says); None: it loads.
HOSTILE_JSON: list[tuple[str, str, str | None]] = [
    ("a good line", json.dumps(message("m-good")), None),
    ("nested a thousand levels deep", '{"a":' * 1000 + "1" + "}" * 1000, "nested too deeply"),
    (
        "nested deep inside a good message",
        json.dumps(message("m-deep"))[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}",
        "nested too deeply",
    ),  # fmt: skip
    (
        "an offset past the end of time",
        json.dumps(message("m-late", timestamp="9999-12-31T23:00:00-05:00")),
        "out of range once its offset is applied",
    ),  # fmt: skip
    (
        "an offset before the start of time",
        json.dumps(message("m-early", timestamp="0001-01-01T00:00:00+01:00")),
        "out of range once its offset is applied",
    ),  # fmt: skip
    ("a year far ahead", json.dumps(message("m-2999", timestamp="2999-01-01T00:00:00Z")), "is outside 2000"),
    ("a type outside the contract", json.dumps(message("m-type", type="teleport")), "type: 'teleport' is not one"),
    ("another good line", json.dumps(message("m-good-2")), None),
]


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / "w.duckdb")
    ensure_raw_tables(con)
    yield con
    con.close()


def quarantine(con: duckdb.DuckDBPyConnection, file: str) -> list[tuple[int, str]]:
    return con.execute("select line, reason from raw._quarantine where file = ? order by line", [file]).fetchall()


def test_no_json_value_crashes_the_loader_and_every_line_is_accounted_for(con, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "web_events"
    folder.mkdir(parents=True)
    lines = "\n".join(line for _, line, _ in HOSTILE_JSON) + "\n"
    (folder / "a_hostile.jsonl").write_bytes(b"\xef\xbb\xbf" + lines.encode())  # with a byte-order mark
    (folder / "b_next_day.jsonl").write_text(json.dumps(message("m-next")) + "\n")
    report = load_source(con, tmp_path / "landing", WEB)
    assert report.errors == []
    [hostile, next_day] = report.loaded
    assert (next_day.rows, next_day.quarantined) == (1, 0), "a later file of the source loads"
    assert hostile.rows + hostile.quarantined == len(HOSTILE_JSON)
    reasons = dict(quarantine(con, "web_events/a_hostile.jsonl"))
    for line, (what, _, expected) in enumerate(HOSTILE_JSON, start=1):
        if expected is None:
            assert line not in reasons, f"{what}: {reasons.get(line)}"
        else:
            assert expected in reasons.get(line, ""), f"{what}: {reasons.get(line)!r}"
    loaded = {row[0] for row in con.execute("select message_id from raw.web_events").fetchall()}
    assert loaded == {"m-good", "m-good-2", "m-next"}, "the byte-order mark did not cost the first line"


def test_no_csv_value_crashes_the_loader(con, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "pos_transactions"
    folder.mkdir(parents=True)
    rows = [
        ["T-good", "S1", "", "2026-10-01T10:00:00Z", "10.00", "EUR", "1", "card"],
        ["T-huge", "S1", "", "2026-10-01T10:00:00Z", "10.00", "EUR", str(2**70), "card"],
        ["T-late", "S1", "", "9999-12-31T23:00:00-05:00", "10.00", "EUR", "1", "card"],
        ["T-early", "S1", "", "0001-01-01T00:00:00+01:00", "10.00", "EUR", "1", "card"],
        ["T-method", "S1", "", "2026-10-01T10:00:00Z", "10.00", "EUR", "1", "barter"],
    ]
    with (folder / "day1.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(POS.column_names)
        writer.writerows(rows)
    [loaded] = load_source(con, tmp_path / "landing", POS).loaded
    assert (loaded.rows, loaded.quarantined) == (1, 4)
    reasons = [reason for _, reason in quarantine(con, "pos_transactions/day1.csv")]
    assert "does not fit in 64 bits" in reasons[0]
    assert all("outside 2000" in reason for reason in reasons[1:3]), reasons
    assert "payment_method: 'barter' is not one of" in reasons[3]


def order_row(order_id: str, line_items: object) -> dict:
    return {
        "order_id": order_id, "customer_account_id": None, "email": "a@example.org", "phone": None,
        "billing_first_name": None, "billing_last_name": None, "billing_street": None, "billing_city": None,
        "billing_postal_code": None, "billing_country": "FR", "currency": "EUR", "subtotal": "10.00",
        "discount": "0.00", "shipping": "0.00", "total": "10.00", "status": "paid",
        "created_at": "2026-10-01T10:00:00Z", "line_items": line_items,
    }  # fmt: skip


def test_a_nested_parquet_value_that_does_not_cast_is_quarantined_and_a_corrupt_file_refused(
    con, tmp_path: Path
) -> None:
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    good_items = [{"sku": "A", "product_name": "Mug", "category": "Home", "quantity": "2", "unit_price": "5.00"}]
    bad_items = [{"sku": "B", "product_name": "Cup", "category": "Home", "quantity": "many", "unit_price": "x"}]
    loose = pa.schema([(f.name, pa.string()) if f.name != "line_items" else
                       ("line_items", pa.list_(pa.struct([(n, pa.string()) for n in
                                                          ("sku", "product_name", "category", "quantity",
                                                           "unit_price")])))
                       for f in ORDERS_SCHEMA])  # fmt: skip
    table = pa.Table.from_pylist([order_row("O-good", good_items), order_row("O-bad", bad_items)], schema=loose)
    pq.write_table(table, folder / "a_orders.parquet")
    corrupt = bytearray((folder / "a_orders.parquet").read_bytes())
    corrupt[100:400] = b"\x00" * 300  # a page of the column chunks overwritten, the footer intact
    (folder / "b_corrupt.parquet").write_bytes(bytes(corrupt))
    pq.write_table(pa.Table.from_pylist([order_row("O-later", good_items)], schema=loose), folder / "c_later.parquet")
    report = load_source(con, tmp_path / "landing", ORDERS)
    files = {load.file: (load.rows, load.quarantined) for load in report.loaded}
    assert files["orders/a_orders.parquet"] == (1, 1)
    assert files["orders/c_later.parquet"] == (1, 0), "a later file of the source loads"
    [(_, reason)] = quarantine(con, "orders/a_orders.parquet")
    assert reason.startswith("line_items:"), reason
    [refused] = report.errors
    assert refused.startswith("orders/b_corrupt.parquet:")
    assert con.execute("select count(*) from raw._loads where file = 'orders/b_corrupt.parquet'").fetchone() == (0,)


def test_an_empty_csv_export_loads_as_no_rows_once_instead_of_failing_every_run(con, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "pos_transactions"
    folder.mkdir(parents=True)
    (folder / "empty.csv").write_bytes(b"")
    first = load_source(con, tmp_path / "landing", POS)
    again = load_source(con, tmp_path / "landing", POS)
    assert (first.errors, [(f.rows, f.quarantined) for f in first.loaded]) == ([], [(0, 0)])
    assert (again.errors, again.skipped) == ([], ["pos_transactions/empty.csv"])
