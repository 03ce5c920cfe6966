"""Loaders: every file exactly once, nothing dropped silently, lineage kept, bad files refused whole."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.demo_data.writer import ORDERS_SCHEMA
from orchestration.loading.landing import outside_sources, source_files
from orchestration.loading.warehouse import ensure_raw_tables, load_source
from orchestration.sources import SOURCES, SOURCES_BY_NAME, FileFormat
from tessera.warehouse import connect

CRM = SOURCES_BY_NAME["crm_contacts"]
WEB = SOURCES_BY_NAME["web_events"]
ORDERS = SOURCES_BY_NAME["orders"]


@pytest.fixture
def con(warehouse: Path) -> duckdb.DuckDBPyConnection:
    con = connect(warehouse)
    ensure_raw_tables(con)
    yield con
    con.close()


def _crm_row(contact_id: str, **values: str) -> list[str]:
    row = dict.fromkeys(CRM.column_names, "")
    row.update(contact_id=contact_id, email=f"{contact_id}@example.com", created_at="2026-10-01 10:00:00")
    row.update(values)
    return [row[name] for name in CRM.column_names]


def _write_csv(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or CRM.column_names)
        writer.writerows(rows)
    return path


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_a_file_is_loaded_once_and_skipped_after(con, tmp_path: Path) -> None:
    _write_csv(tmp_path / "crm_contacts" / "day1.csv", [_crm_row("C1"), _crm_row("C2")])
    first = load_source(con, tmp_path, CRM)
    second = load_source(con, tmp_path, CRM)
    assert (len(first.loaded), first.rows) == (1, 2)
    assert (second.loaded, second.skipped) == ([], ["crm_contacts/day1.csv"])
    assert _count(con, "select count(*) from raw.crm_contacts") == 2
    manifest = con.execute("select file, source, rows, quarantined, length(sha256) from raw._loads").fetchall()
    assert manifest == [("crm_contacts/day1.csv", "crm_contacts", 2, 0, 64)]


def test_a_changed_file_is_refused_whole_and_named(con, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "crm_contacts" / "day1.csv", [_crm_row("C1")])
    load_source(con, tmp_path, CRM)
    _write_csv(path, [_crm_row("C1"), _crm_row("C9")])
    _write_csv(tmp_path / "crm_contacts" / "day2.csv", [_crm_row("C3")])
    report = load_source(con, tmp_path, CRM)
    assert len(report.errors) == 1
    assert "crm_contacts/day1.csv" in report.errors[0] and "different content" in report.errors[0]
    assert [load.file for load in report.loaded] == ["crm_contacts/day2.csv"], "the other file still loads"
    ids = {row[0] for row in con.execute("select contact_id from raw.crm_contacts").fetchall()}
    assert ids == {"C1", "C3"}, "nothing of the changed file loaded"


def test_a_file_cut_short_after_some_of_it_was_written_loads_nothing_and_the_files_around_it_load(
    con, tmp_path: Path
) -> None:
    """A source's new files load in one transaction: a compressed file that turns out cut short after its first
    block was written undoes the transaction, and the files before and after it load again without it."""
    import gzip

    from orchestration.loading.readers import LandingFileError, read

    def messages(prefix: str, count: int) -> bytes:
        event = {"type": "track", "anonymousId": "a1", "timestamp": "2026-10-01T10:00:00Z", "event": "Viewed"}
        return "".join(json.dumps({**event, "messageId": f"{prefix}-{n}", "n": f"{n:0400d}"}) + "\n"
                       for n in range(count)).encode()  # fmt: skip

    folder = tmp_path / "web_events"
    folder.mkdir()
    (folder / "day1.jsonl").write_bytes(messages("before", 3))
    whole = gzip.compress(messages("cut", 40_000), compresslevel=1)  # about 18 MB of lines: blocks of 8 MiB
    (folder / "day2.jsonl.gz").write_bytes(whole[: len(whole) * 9 // 10])
    (folder / "day3.jsonl").write_bytes(messages("after", 2))
    cut = next(file for file in source_files(tmp_path, WEB).files if file.name.endswith(".gz"))
    batches = read(cut, WEB)
    assert next(batches).rows > 0, "the cut file's first rows are read before the cut is found"
    with pytest.raises(LandingFileError):
        list(batches)

    report = load_source(con, tmp_path, WEB)
    assert [load.file for load in report.loaded] == ["web_events/day1.jsonl", "web_events/day3.jsonl"]
    assert len(report.errors) == 1 and report.errors[0].startswith("web_events/day2.jsonl.gz: "), report.errors
    ids = {row[0] for row in con.execute("select message_id from raw.web_events").fetchall()}
    assert ids == {"before-0", "before-1", "before-2", "after-0", "after-1"}
    assert _count(con, "select count(*) from raw._loads") == 2
    assert _count(con, "select count(*) from raw._quarantine") == 0
    again = load_source(con, tmp_path, WEB)
    assert again.skipped == ["web_events/day1.jsonl", "web_events/day3.jsonl"] and len(again.errors) == 1


def test_bad_csv_rows_are_quarantined_with_line_and_reason(con, tmp_path: Path) -> None:
    rows = [
        _crm_row("C1"),
        _crm_row("C2")[:-1],  # a field short
        _crm_row("C3", created_at="31/02/2026 25:61"),
        _crm_row("", email="x@example.com"),  # no key
        _crm_row("C5", first_name="Ana\nMaria"),  # a quoted value over two lines is one record
        _crm_row("C6", updated_at="2026-10-02T08:00:00+02:00"),
    ]
    _write_csv(tmp_path / "crm_contacts" / "day1.csv", rows)
    report = load_source(con, tmp_path, CRM)
    assert (report.rows, report.quarantined) == (3, 3)
    quarantine = con.execute("select line, reason from raw._quarantine order by line").fetchall()
    assert quarantine[0] == (3, "expected 13 columns, found 12")
    assert quarantine[1][0] == 4 and "created_at" in quarantine[1][1] and "31/02/2026" in quarantine[1][1]
    assert quarantine[2] == (5, "missing contact_id")
    loaded = con.execute("select contact_id, _line, _file, updated_at from raw.crm_contacts order by _line").fetchall()
    assert [(r[0], r[1]) for r in loaded] == [("C1", 2), ("C5", 6), ("C6", 8)], "C6 is on line 8"
    assert loaded[2][3] == datetime(2026, 10, 2, 6, 0), "offsets are converted to UTC"
    assert all(r[2] == "crm_contacts/day1.csv" for r in loaded)


def test_header_off_contract_refuses_the_file(con, tmp_path: Path) -> None:
    header = [name for name in CRM.column_names if name != "phone"] + ["fax"]
    _write_csv(tmp_path / "crm_contacts" / "odd.csv", [["x"] * len(header)], header=header)
    report = load_source(con, tmp_path, CRM)
    assert report.loaded == []
    assert "crm_contacts/odd.csv" in report.errors[0]
    assert "missing column(s) phone" in report.errors[0] and "unknown column(s) fax" in report.errors[0]
    assert _count(con, "select count(*) from raw._loads") == 0


def test_jsonl_keeps_the_whole_message_and_quarantines_bad_lines(con, tmp_path: Path) -> None:
    good = {
        "type": "track",
        "messageId": "m1",
        "anonymousId": "a1",
        "timestamp": "2026-10-01T10:00:00Z",
        "event": "Product Viewed",
        "futureField": {"added": "later"},
    }
    lines = [
        json.dumps(good),
        '{"type": "track", "messageId": "m2", "timest',
        json.dumps(dict(good, messageId="m3", timestamp="yesterday")),
        "",
        json.dumps(["not", "an", "object"]),
        json.dumps(dict(good, messageId=None)),
        json.dumps(dict(good, messageId="m1")),  # a re-delivery: raw keeps both
    ]
    path = tmp_path / "web_events" / "day1.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = load_source(con, tmp_path, WEB)
    assert (report.rows, report.quarantined) == (2, 4)
    reasons = dict(con.execute("select line, reason from raw._quarantine").fetchall())
    assert reasons[2].startswith("bad JSON")
    assert "unparseable timestamp 'yesterday'" in reasons[3]
    assert reasons[5] == "a line must be a JSON object, not a JSON list"
    assert reasons[6] == "missing message_id"
    payload = con.execute("select payload->>'$.futureField.added', _line from raw.web_events order by _line").fetchall()
    assert payload == [("later", 1), ("later", 7)]


def _orders_table(rows: list[dict]) -> pa.Table:
    base = dict.fromkeys(ORDERS_SCHEMA.names)
    base.update(
        currency="EUR",
        status="paid",
        created_at=datetime(2026, 10, 1, 12),
        line_items=[],
        subtotal=Decimal("10.00"),
        discount=Decimal("0.00"),
        shipping=Decimal("0.00"),
        total=Decimal("10.00"),
    )
    return pa.Table.from_pylist([dict(base, **row) for row in rows], schema=ORDERS_SCHEMA)


def test_parquet_rows_load_typed_and_a_row_without_key_is_quarantined(con, tmp_path: Path) -> None:
    path = tmp_path / "orders" / "day1.parquet"
    path.parent.mkdir()
    item = {"sku": "S1", "product_name": "Mug", "category": "home", "quantity": 2, "unit_price": Decimal("5.00")}
    pq.write_table(_orders_table([{"order_id": "O1", "line_items": [item]}, {"order_id": None}]), path)
    report = load_source(con, tmp_path, ORDERS)
    assert (report.rows, report.quarantined) == (1, 1)
    row = con.execute("select order_id, total, line_items[1].unit_price, _row from raw.orders").fetchone()
    assert row == ("O1", Decimal("10.00"), Decimal("5.00"), 1)
    assert con.execute("select line, reason from raw._quarantine").fetchall() == [(2, "missing order_id")]


def test_a_file_that_is_not_parquet_is_refused(con, tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "broken.parquet").write_bytes(b"not parquet at all")
    report = load_source(con, tmp_path, ORDERS)
    assert "orders/broken.parquet: not a readable Parquet file" in report.errors[0]


def test_other_files_and_unknown_folders_are_reported(con, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _write_csv(landing / "crm_contacts" / "day1.csv", [_crm_row("C1")])
    (landing / "crm_contacts" / "notes.txt").write_text("hello")
    (landing / "newsletter_signups").mkdir()
    (landing / "_truth").mkdir()
    report = load_source(con, landing, CRM)
    assert report.left_alone == [
        "crm_contacts/notes.txt: not a crm_contacts file (expected .csv, .csv.gz, .csv.bz2, .csv.zst)"
    ]
    assert outside_sources(landing) == [
        f"newsletter_signups/: not a known source folder ({', '.join(SOURCES_BY_NAME)}): left alone"
    ]
    assert load_source(con, landing, SOURCES_BY_NAME["orders"]).loaded == [], "a missing folder is fine"


def test_loaded_plus_quarantined_is_every_row_of_every_file(con, small_landing, tmp_path: Path) -> None:
    landing, summary = small_landing
    copy = tmp_path / "landing"
    shutil.copytree(landing, copy)
    for source in SOURCES:
        report = load_source(con, copy, source)
        assert report.errors == []
        for load in report.loaded:
            path = copy / load.file
            if source.format is FileFormat.PARQUET:
                in_file = pq.ParquetFile(path).metadata.num_rows
            else:
                with path.open(encoding="utf-8", newline="") as handle:
                    in_file = (
                        sum(1 for _ in csv.reader(handle)) - 1
                        if source.format is FileFormat.CSV
                        else sum(1 for line in handle if line.strip())
                    )
            assert load.rows + load.quarantined == in_file, load.file
        assert report.rows == summary.records[source.name], source.name
        assert report.quarantined == summary.malformed.get(source.name, 0), source.name


def test_a_reader_of_a_warehouse_a_build_holds_is_told_who_holds_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from tessera.warehouse import WarehouseBusy, read_only

    warehouse = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "c.execute('create table t as select 1 as a'); print('held', flush=True); time.sleep(4)", str(warehouse)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy) as busy:
            read_only(warehouse)
        assert f"is held by process {holder.pid}" in str(busy.value) and "--wait" in str(busy.value)
        env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
        query = [sys.executable, "-m", "orchestration", "query", "select a from t"]
        refused = subprocess.run(query, env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert f"{warehouse} is held by process {holder.pid}" in refused.stderr.splitlines()[0]
        started = time.monotonic()
        waited = subprocess.run([*query, "--wait", "30"], env=env, capture_output=True, text=True, timeout=60)
        assert waited.returncode == 0 and "1" in waited.stdout, waited.stderr
        assert time.monotonic() - started < 30
    finally:
        holder.wait(timeout=10)


def test_a_timestamp_column_converts_as_python_reads_each_value() -> None:
    """Offsets and none mixed in one column, a few values of another shape among many good ones (read by Python
    alone), and values shaped like ISO 8601 that are still wrong: each converts, or is refused with its reason,
    as `convert_value` does it one at a time."""
    from orchestration.loading.convert import BadValue, convert_array, convert_value
    from orchestration.sources import Column, ColumnType

    column = Column("occurred_at", ColumnType.TIMESTAMP, required=True)
    good = ["2026-10-01T10:00:00Z", "2026-10-01 12:30:00+02:00", "2026-10-01T10:00:00.25", " 2026-10-02T00:00:00-0500"]
    odd = ["yesterday", "2026-13-01T00:00:00Z", "", "01/10/2026", "2026-10-01T25:00:00"]
    values = good * 40 + odd + good * 10
    converted, bad = convert_array(column, pa.array(values, pa.string()))
    for index, value in enumerate(values):
        try:
            expected, reason = convert_value(column, value), None
        except BadValue as error:
            expected, reason = None, str(error)
        assert (converted[index].as_py(), bad.get(index)) == (expected, reason), value
    assert len(bad) == len(odd)
