"""Hostile and careless input to the loaders: every value that used to crash a source's loader (and every later
file of that source) is quarantined with its reason, or its file refused by name, and everything else loads.

The corpus is written by the tests themselves (`HOSTILE_JSON`, `hostile_csv`, ...), so that it is in the
repository and each case says what it is.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.demo_data import generate
from orchestration.demo_data.writer import ORDERS_SCHEMA
from orchestration.loading import readers
from orchestration.loading.landing import LandingFile
from orchestration.loading.warehouse import ensure_raw_tables, load_source
from orchestration.sources import SOURCES_BY_NAME, VALUE_SETS
from tessera.warehouse import connect

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


# Lines the bulk JSON reader must read exactly as Python's line-by-line reader does, or leave to it.
AWKWARD_JSON: list[bytes] = [
    json.dumps(message("m-number-id", userId=12345, anonymousId=-0)).encode(),
    json.dumps(message("m-float-id", userId=1e5)).encode(),
    json.dumps(message("m-bool-id", userId=True)).encode(),
    json.dumps(message("m-object-id", userId={"id": 1})).encode(),
    json.dumps(message("m-huge-id", userId=2**70)).encode(),
    json.dumps(message("m-empty", userId="", anonymousId="   ")).encode(),
    b'{"type":"page","messageId":"m-twice","messageId":"m-second","timestamp":"2026-10-01T10:00:00Z"}',
    b'{"type":"page","messageId":"m-comma","timestamp":"2026-10-01T10:00:00Z",}',
    b'  {"type":"page","messageId":"m-spaces","timestamp":"2026-10-01T10:00:00+02:00"}  \r',
    b'{"type":"page","messageId":"m-\\u00e9\\ud83d\\ude00","timestamp":"2026-10-01T10:00:00Z"}',
    b'{"type":"page","messageId":"m-nan","timestamp":NaN}',
    b'{"type":"page","messageId":"m-latin","userId":"Ren\xe9","timestamp":"2026-10-01T10:00:00Z"}',
    b"",
    b"   ",
    "\u00a0".encode(),  # a no-break space: white space to Python's str.strip(), not to JSON nor to bytes.strip()
    b"null",
    b'"a string"',
    b'{"type":"page","messageId":"m-lone","userId":"\\ud800","timestamp":"2026-10-01T10:00:00Z"}',
    json.dumps(message("m-long", properties={"text": "x" * 100_000})).encode(),
]
AWKWARD_EMAIL: list[bytes] = [
    b'{"sg_event_id":"e1","event":"open","timestamp":1767225600}',
    b'{"sg_event_id":"e2","event":"open","timestamp":1767225600.25}',
    b'{"sg_event_id":"e3","event":"open","timestamp":"1767225600"}',
    b'{"sg_event_id":"e4","event":"open","timestamp":1e300}',
    b'{"sg_event_id":"e5","event":"open","timestamp":-1}',
    b'{"sg_event_id":"e6","event":"open","timestamp":null}',
    b'{"sg_event_id":"e7","event":"open","timestamp":true}',
    b'{"sg_event_id":"e8","event":"teleport","timestamp":1767225600,"email":"a@example.org"}',
    b'{"sg_event_id":"e9","event":"open","timestamp":1767225600,"campaign_id":42}',
]


def _read_both_ways(tmp_path: Path, source_name: str, lines: list[bytes]) -> tuple[list, list]:
    """The rows and quarantine of a file read in bulk (in batches of 3 lines) and line by line."""
    source = SOURCES_BY_NAME[source_name]
    path = tmp_path / f"{source_name}.jsonl"
    path.write_bytes(b"\n".join(lines))  # the last line without a line break
    batches = list(readers.read(LandingFile(path, path.name), source, batch_rows=3))
    bulk_rows = pa.concat_tables([batch.table for batch in batches]).to_pylist()
    bulk_quarantine = [q for batch in batches for q in batch.quarantined]
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    by_line = readers._json_lines(source, numbered, VALUE_SETS[source_name])
    assert bulk_quarantine == by_line.quarantined
    assert bulk_rows == by_line.table.to_pylist()
    return bulk_rows, bulk_quarantine


def test_the_bulk_json_reader_reads_every_line_as_the_line_reader_does(tmp_path: Path) -> None:
    hostile = [line.encode() for _, line, _ in HOSTILE_JSON]
    rows, quarantined = _read_both_ways(tmp_path, "web_events", hostile + AWKWARD_JSON)
    assert len(rows) + len(quarantined) == len([line for line in hostile + AWKWARD_JSON if line.strip()])
    loaded = {row["message_id"]: row for row in rows}
    assert loaded["m-number-id"]["user_id"] == "12345" and loaded["m-float-id"]["user_id"] == "100000.0"
    assert loaded["m-second"]["message_id"] == "m-second", "a key given twice: the last value, as Python reads it"
    assert loaded["m-empty"]["user_id"] is None, "an empty value is a missing one"
    assert "m-comma" not in loaded, "a trailing comma is not JSON"
    rows, quarantined = _read_both_ways(tmp_path, "email_events", AWKWARD_EMAIL)
    assert [row["sg_event_id"] for row in rows] == ["e1", "e2", "e3", "e9"]
    assert rows[1]["timestamp"].microsecond == 250_000


def test_the_bulk_json_reader_agrees_on_generated_files(tmp_path: Path) -> None:
    generate(tmp_path / "landing", 40, 2, seed=5)
    for source_name in ("web_events", "app_events", "email_events", "consent_events"):
        lines = b"".join(path.read_bytes() for path in sorted((tmp_path / "landing" / source_name).rglob("*.jsonl")))
        rows, _ = _read_both_ways(tmp_path, source_name, lines.splitlines())
        assert rows, source_name


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
    assert all("out of range once its offset is applied" in reason for reason in reasons[1:3]), reasons
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


def pos_line(transaction_id: str, **changes: str) -> str:
    """A good pos_transactions CSV line, with `changes` by column."""
    row = dict(zip(POS.column_names, [transaction_id, "FR01", "", "2026-10-01T10:00:00Z", "10.00", "EUR", "1",
                                      "card"], strict=True))  # fmt: skip
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow({**row, **changes}.values())
    return out.getvalue()


def test_a_latin1_row_and_an_unbalanced_quote_are_quarantined_alone(con, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "pos_transactions"
    folder.mkdir(parents=True)
    lines = [
        ",".join(POS.column_names).encode(),
        pos_line("T-1").encode(),
        pos_line("T-latin1", store_id="Gen\xe8ve").encode("latin-1"),  # line 3: not UTF-8
        pos_line("T-3").encode(),
        b'T-quote,"S1,,2026-10-01T10:00:00Z,10.00,EUR,1,card',  # line 5: a quote never closed
        *(pos_line(f"T-{n}").encode() for n in range(6, 15)),  # the nine rows it used to swallow
        b'T-15,"Store, ""the big one""",,2026-10-01T10:00:00Z,10.00,EUR,1,card',  # quoted, with quotes inside
        b'T-16,"Store',  # a quoted value that spans two lines, as RFC 4180 allows
        b'on two lines",,2026-10-01T10:00:00Z,10.00,EUR,1,card',
        pos_line("T-18").encode(),
    ]
    (folder / "day1.csv").write_bytes(b"\r\n".join(lines) + b"\r\n")
    [loaded] = load_source(con, tmp_path / "landing", POS).loaded
    assert (loaded.rows, loaded.quarantined) == (14, 2), "every record counted once: rows + quarantined = records"
    [(line_a, latin1), (line_b, quote)] = quarantine(con, "pos_transactions/day1.csv")
    assert (line_a, line_b) == (3, 5)
    assert "not valid UTF-8" in latin1 and "unbalanced quote" in quote
    stores = dict(con.execute("select transaction_id, store_id from raw.pos_transactions").fetchall())
    assert stores["T-15"] == 'Store, "the big one"' and stores["T-16"] == "Store\non two lines"
    lines_of = dict(con.execute("select transaction_id, _line from raw.pos_transactions").fetchall())
    assert (lines_of["T-6"], lines_of["T-14"], lines_of["T-16"], lines_of["T-18"]) == (6, 14, 16, 18)
    content = con.execute("select content from raw._quarantine where line = 3").fetchone()[0]
    assert "Gen\ufffdve" in content, "the row is kept as delivered (bytes that are not UTF-8 shown as �)"


def test_a_quote_left_open_at_the_end_of_a_file_quarantines_its_line_only(con, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "pos_transactions"
    folder.mkdir(parents=True)
    text = "\n".join([",".join(POS.column_names), pos_line("T-1"), 'T-2,"S1', pos_line("T-3", item_count="x")])
    (folder / "day1.csv").write_text(text + "\n")
    [loaded] = load_source(con, tmp_path / "landing", POS).loaded
    assert (loaded.rows, loaded.quarantined) == (1, 2)
    assert [line for line, _ in quarantine(con, "pos_transactions/day1.csv")] == [3, 4]


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_exports_load_from_date_folders_compressed_and_in_any_letter_case(con, tmp_path: Path) -> None:
    import bz2
    import gzip

    landing = tmp_path / "landing"
    header = ",".join(POS.column_names)
    csv_of = lambda *ids: ("\n".join([header, *(pos_line(i) for i in ids)]) + "\n").encode()  # noqa: E731
    write(landing / "pos_transactions" / "2026" / "10" / "01" / "export.csv", csv_of("T-a"))
    write(landing / "pos_transactions" / "2026" / "10" / "02" / "export.csv.gz", gzip.compress(csv_of("T-b", "T-c")))
    write(landing / "pos_transactions" / "DAY3.CSV", csv_of("T-d"))
    write(landing / "pos_transactions" / "day4.csv.bz2", bz2.compress(csv_of("T-e")))
    with pa.output_stream(str(landing / "pos_transactions" / "day5.csv.zst"), compression="zstd") as out:
        out.write(csv_of("T-f"))
    write(landing / "pos_transactions" / "day6.csv.gz", gzip.compress(b""))  # an empty export, compressed
    jsonl = (json.dumps(message("m-gz")) + "\n").encode()
    write(landing / "web_events" / "2026-10-01" / "events.jsonl.gz", gzip.compress(jsonl))
    report = load_source(con, landing, POS)
    assert report.errors == [] and report.left_alone == []
    assert {f.file: f.rows for f in report.loaded} == {
        "pos_transactions/2026/10/01/export.csv": 1,
        "pos_transactions/2026/10/02/export.csv.gz": 2,
        "pos_transactions/DAY3.CSV": 1,
        "pos_transactions/day4.csv.bz2": 1,
        "pos_transactions/day5.csv.zst": 1,
        "pos_transactions/day6.csv.gz": 0,
    }
    assert load_source(con, landing, POS).skipped == sorted(f.file for f in report.loaded), "each loads once"
    assert [f.rows for f in load_source(con, landing, WEB).loaded] == [1]


def test_every_file_left_alone_is_reported_and_links_out_of_the_landing_folder_refused(con, tmp_path: Path) -> None:
    from orchestration.loading.landing import outside_sources

    landing = tmp_path / "landing"
    good = (",".join(POS.column_names) + "\n" + pos_line("T-1") + "\n").encode()
    write(landing / "pos_transactions" / "day1.csv", good)
    write(landing / "pos_transactions" / "..day2.csv", good)
    write(landing / "pos_transactions" / ".partial.csv", good)
    write(landing / "pos_transactions" / "notes.txt", b"hello")
    write(landing / "pos_transactions" / ".upload" / "day3.csv", good)
    secret = write(tmp_path / "elsewhere" / "secret.csv", good)
    (landing / "pos_transactions" / "linked.csv").symlink_to(secret)
    (landing / "pos_transactions" / "dangling.csv").symlink_to(tmp_path / "landing" / "gone.csv")
    (landing / "pos_transactions" / "inside.csv").symlink_to(landing / "pos_transactions" / "day1.csv")
    (landing / "pos_transactions" / "folder_link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    write(landing / "pos_transactions_2026-10-03.csv", good)
    write(landing / "newsletter_signups" / "a.csv", good)
    write(landing / "_truth" / "identity.csv", b"source,record_id,person_id\n")
    report = load_source(con, landing, POS)
    assert [f.file for f in report.loaded] == ["pos_transactions/day1.csv", "pos_transactions/inside.csv"]
    left_alone = "\n".join(report.left_alone)
    for name in ("..day2.csv", ".partial.csv", "notes.txt", ".upload/"):
        assert f"pos_transactions/{name}" in left_alone, (name, left_alone)
    assert len(report.left_alone) == 4
    [dangling, folder_link, linked] = sorted(report.errors)
    assert "pos_transactions/linked.csv: a link to" in linked and "outside the landing folder" in linked
    assert "outside the landing folder" in folder_link and "does not exist" in dangling
    assert con.execute("select count(*) from raw.pos_transactions where _file like '%linked%'").fetchone() == (0,)
    root = outside_sources(landing)
    assert len(root) == 2 and "move it into pos_transactions/" in root[1] and root[0].startswith("newsletter_signups/")


@dataclass
class Corpus:
    """What a landing folder holding every hostile case should give: each file's (rows, quarantined), the
    quarantine reasons expected by file and line, the files refused and those left alone."""

    loaded: dict[str, tuple[int, int]] = field(default_factory=dict)
    reasons: dict[str, dict[int, str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)
    good_ids: dict[str, set[str]] = field(default_factory=dict)  # raw table -> record ids of the good rows


def write_hostile_corpus(landing: Path, tag: str = "x", padding: int = 200) -> Corpus:
    """Writes every hostile landing case beside whatever `landing` holds; ids start with `H{tag}-` so that a
    folder with other data can tell them apart. Returns what loading it should give. Each text file ends with
    `padding` good rows, as a real export has many rows about each bad one: so its share of bad rows stays under
    the limit that holds a file back (a file that is mostly broken is held back, which a test of that shows)."""
    import bz2
    import gzip

    corpus = Corpus()
    h = f"H{tag}-"

    # JSONL: every hostile value, with a byte-order mark, in a date folder, gzip-compressed.
    name = "web_events/2026/10/01/hostile.jsonl.gz"
    cases = [*HOSTILE_JSON, *((f"padding {n}", "", None) for n in range(padding))]
    lines = [json.dumps(message(f"{h}{index}")) if reason is None else line.replace('"m-', f'"{h}m-')
             for index, (_, line, reason) in enumerate(cases)]  # fmt: skip
    write(landing / name, gzip.compress(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode()))
    bad = {n + 1: reason for n, (_, _, reason) in enumerate(cases) if reason}
    corpus.loaded[name] = (len(cases) - len(bad), len(bad))
    corpus.reasons[name] = bad
    corpus.good_ids["web_events"] = {f"{h}{n}" for n, (_, _, reason) in enumerate(cases) if not reason}

    # CSV: huge integers, offsets out of range, a value off its set, latin-1, an open quote, an upper-case name.
    records = [
        (pos_line(f"{h}T-1").encode(), None),
        (pos_line(f"{h}T-huge", item_count=str(2**70)).encode(), "does not fit in 64 bits"),
        (pos_line(f"{h}T-late", occurred_at="9999-12-31T23:00:00-05:00").encode(), "out of range once"),
        (pos_line(f"{h}T-2999", occurred_at="2999-01-01T00:00:00Z").encode(), "outside 2000"),
        (pos_line(f"{h}T-barter", payment_method="barter").encode(), "'barter' is not one of"),
        (pos_line(f"{h}T-latin1", store_id="Gen\xe8ve").encode("latin-1"), "not valid UTF-8"),
        (f'{h}T-quote,"FR01,,2026-10-01T10:00:00Z,10.00,EUR,1,card'.encode(), "unbalanced quote"),
        *((pos_line(f"{h}T-after-{n}").encode(), None) for n in range(9)),
        (pos_line(f"{h}T-short").encode()[: -len(b",card")], "expected 8 columns, found 7"),
        *((pos_line(f"{h}T-padding-{n}").encode(), None) for n in range(padding)),
    ]
    name = "pos_transactions/2026/10/02/HOSTILE.CSV.GZ"
    header = ",".join(POS.column_names).encode()
    write(landing / name, gzip.compress(b"\n".join([header, *(line for line, _ in records)]) + b"\n"))
    corpus.loaded[name] = (sum(1 for _, reason in records if not reason), sum(1 for _, reason in records if reason))
    corpus.reasons[name] = {n + 2: reason for n, (_, reason) in enumerate(records) if reason}
    corpus.good_ids["pos_transactions"] = {line.split(b",")[0].decode() for line, reason in records if not reason}
    name = "pos_transactions/EMPTY.csv.bz2"
    write(landing / name, bz2.compress(b""))
    corpus.loaded[name] = (0, 0)

    # Parquet: a nested value that does not cast (quarantined), a corrupt page (refused, named).
    loose_items = pa.list_(pa.struct([(n, pa.string()) for n in ("sku", "product_name", "category", "quantity",
                                                                 "unit_price")]))  # fmt: skip
    loose = pa.schema([(f.name, pa.string()) if f.name != "line_items" else ("line_items", loose_items)
                       for f in ORDERS_SCHEMA])  # fmt: skip
    good_items = [{"sku": "A", "product_name": "Mug", "category": "Home", "quantity": "2", "unit_price": "5.00"}]
    bad_items = [{"sku": "B", "product_name": "Cup", "category": "Home", "quantity": "many", "unit_price": "x"}]
    name = "orders/2026-10-01/hostile.parquet"
    (landing / name).parent.mkdir(parents=True, exist_ok=True)
    rows = [order_row(f"{h}O-good", good_items), order_row(f"{h}O-bad", bad_items)]
    pq.write_table(pa.Table.from_pylist(rows, schema=loose), landing / name)
    corpus.loaded[name] = (1, 1)
    corpus.reasons[name] = {2: "line_items:"}
    corpus.good_ids["orders"] = {f"{h}O-good"}
    corrupt = bytearray((landing / name).read_bytes())
    corrupt[100:400] = b"\x00" * 300
    write(landing / "orders/2026-10-01/corrupt.parquet", bytes(corrupt))
    corpus.refused.append("orders/2026-10-01/corrupt.parquet")

    # Files a careless exporter leaves, and a link out of the landing folder.
    good = header + b"\n" + pos_line(f"{h}T-never").encode() + b"\n"
    for left in ("pos_transactions/..day.csv", "pos_transactions/.partial.csv", "pos_transactions/readme.txt"):
        write(landing / left, good)
        corpus.left_alone.append(left)
    write(landing / f"pos_transactions_{tag}.csv", good)
    corpus.left_alone.append(f"pos_transactions_{tag}.csv")
    outside = write(landing.parent / f"outside-{tag}" / "secret.csv", good)
    (landing / "pos_transactions" / "link.csv").symlink_to(outside)
    corpus.refused.append("pos_transactions/link.csv")
    return corpus


def test_the_whole_corpus_loads_every_good_row_and_quarantines_or_refuses_every_bad_one(con, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    corpus = write_hostile_corpus(landing)
    reports = [load_source(con, landing, source) for source in SOURCES_BY_NAME.values()]
    loaded = {load.file: (load.rows, load.quarantined) for report in reports for load in report.loaded}
    assert loaded == corpus.loaded
    refused = sorted(error for report in reports for error in report.errors)
    assert [error.split(": ")[0] for error in refused] == sorted(corpus.refused), refused
    assert all("\n" not in error for error in refused), "a reason reads on one line"
    left_alone = "\n".join(note for report in reports for note in report.left_alone)
    assert all(name in left_alone for name in corpus.left_alone[:-1]), left_alone
    for file, expected in corpus.reasons.items():
        found = dict(quarantine(con, file))
        assert set(found) == set(expected), (file, found)
        unexpected = {line: found.get(line) for line, reason in expected.items() if reason not in found.get(line, "")}
        assert not unexpected, (file, unexpected)
    for table, ids in corpus.good_ids.items():
        key = SOURCES_BY_NAME[table].record_id
        assert {row[0] for row in con.execute(f"select {key} from raw.{table}").fetchall()} == ids
