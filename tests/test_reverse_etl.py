"""The sync engine against real destinations on this machine: a signed webhook receiver, files, PostgreSQL.

The activation model is a plain table written by the test, so each case states its rows and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from reverse_etl.destinations import DESTINATIONS
from reverse_etl.engine import run_syncs
from reverse_etl.state import SyncState
from reverse_etl.sync_files import SyncDefinition, SyncDefinitionError, load_definitions

SECRET = "webhook-test-secret"
PURPOSES = ["email_marketing", "advertising"]
MODES = {name: cls.modes for name, cls in DESTINATIONS.items()}
MODELS = {name: cls.settings_model for name, cls in DESTINATIONS.items()}


class Receiver:
    """A webhook receiver that checks signatures, keeps the rows it holds, and answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.rows: dict[str, dict] = {}
        self.answer: Callable[[dict], tuple[int, dict | None, dict[str, str]]] = lambda body: (200, None, {})
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = hmac.new(
                    SECRET.encode(), self.headers["X-Tessera-Timestamp"].encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                if self.headers["X-Tessera-Signature"] != f"sha256={expected}":
                    self.send_response(401)
                    self.end_headers()
                    return
                payload = json.loads(body)
                status, answer, headers = receiver.answer(payload)
                if status == 200:
                    receiver.requests.append(payload)
                    rejected = {item["key"] for item in (answer or {}).get("rejected", [])}
                    for row in payload["rows"]:
                        if row["key"] in rejected:
                            continue
                        if payload["operation"] in ("delete", "remove"):
                            receiver.rows.pop(row["key"], None)
                        else:
                            receiver.rows[row["key"]] = row["fields"]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                data = json.dumps(answer).encode() if answer else b""
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sent(self, operation: str | None = None) -> list[str]:
        return [row["key"] for r in self.requests if operation in (None, r["operation"]) for row in r["rows"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)


def model(warehouse: Path, rows: list[tuple], name: str = "sync_people") -> None:
    """activation.<name>: (customer_id, email, plan, consent_email_marketing, is_suppressed) rows."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists activation")
        con.execute(
            f"create or replace table activation.{name} (customer_id varchar, email varchar, plan varchar, "
            "consent_email_marketing boolean, is_suppressed boolean)"
        )
        if rows:
            con.executemany(f"insert into activation.{name} values (?, ?, ?, ?, ?)", rows)


def syncs(tmp_path: Path, text: str) -> list[SyncDefinition]:
    folder = tmp_path / "syncs"
    folder.mkdir(exist_ok=True)
    (folder / "test.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_definitions(folder, destination_types=MODES, purposes=PURPOSES, settings_models=MODELS)


def webhook_entry(url: str, mode: str = "mirror", batch_size: int = 100, name: str = "people_hook") -> str:
    """One sync of the `syncs:` list (to be dedented with the rest)."""
    return f"""
      - name: {name}
        model: sync_people
        destination: {{type: webhook, url: "{url}", secret: {{env: TEST_WEBHOOK_SECRET}}, batch_size: {batch_size},
                       retry_attempts: 3, retry_base_seconds: 0.01}}
        mode: {mode}
        primary_key: customer_id
        mapping:
          email: email
          source: {{constant: tessera}}
          greeting: {{template: "Hello {{{{ email.split('@')[0] }}}}"}}
        consent: email_marketing
    """


def webhook_sync(url: str, mode: str = "mirror", batch_size: int = 100) -> str:
    return "\n    syncs:" + webhook_entry(url, mode, batch_size)


def results(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_three_runs_send_exactly_the_diff(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    model(warehouse, [("c1", "a@x.org", "free", True, False), ("c2", "b@x.org", "free", True, False)])
    [first] = run_syncs(warehouse, [sync])
    assert (first.status, first.accepted, sorted(receiver.sent("upsert"))) == ("succeeded", 2, ["c1", "c2"])
    assert receiver.rows["c1"] == {"email": "a@x.org", "source": "tessera", "greeting": "Hello a"}

    receiver.requests.clear()  # c1's email changes; c2's plan (not mapped) changes; c3 arrives
    model(
        warehouse,
        [
            ("c1", "a2@x.org", "free", True, False),
            ("c2", "b@x.org", "pro", True, False),
            ("c3", "c@x.org", "", True, False),
        ],
    )
    [second] = run_syncs(warehouse, [sync])
    assert sorted(receiver.sent()) == ["c1", "c3"] and second.planned == 2

    receiver.requests.clear()
    model(warehouse, [("c1", "a2@x.org", "free", True, False), ("c3", "c@x.org", "", True, False)])
    [third] = run_syncs(warehouse, [sync])
    assert receiver.sent("delete") == ["c2"] and receiver.sent("upsert") == [] and third.accepted == 1
    assert sorted(receiver.rows) == ["c1", "c3"]
    runs = results(warehouse, "select planned, sent, accepted, status from reverse_etl.sync_runs order by started_at")
    assert runs == [(2, 2, 2, "succeeded"), (2, 2, 2, "succeeded"), (1, 1, 1, "succeeded")]


def test_rows_without_consent_or_suppressed_are_never_sent_and_leave_when_consent_goes(
    tmp_path: Path, receiver: Receiver
) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url, mode="audience"))
    model(
        warehouse,
        [("c1", "a@x.org", "", True, False), ("c2", "b@x.org", "", False, False), ("c3", "c@x.org", "", True, True)],
    )
    [first] = run_syncs(warehouse, [sync])
    assert receiver.sent() == ["c1"] and first.not_eligible == 2
    model(warehouse, [("c1", "a@x.org", "", False, False)])  # c1 withdraws
    run_syncs(warehouse, [sync])
    assert receiver.sent("remove") == ["c1"] and receiver.rows == {}
    assert results(warehouse, "select count(*) from reverse_etl.sync_state") == [(0,)], "nothing of c1 kept"


def test_a_rejected_row_is_recorded_and_retried_next_run_until_it_succeeds(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    model(warehouse, [("c1", "a@x.org", "", True, False), ("c2", "bad", "", True, False)])
    receiver.answer = lambda body: (200, {"rejected": [{"key": "c2", "error": "invalid email"}]}, {})
    [first] = run_syncs(warehouse, [sync])
    assert (first.accepted, first.rejected) == (1, 1)
    assert results(
        warehouse,
        "select record_key, operation, status, error from reverse_etl.sync_row_results where status <> 'accepted'",
    ) == [("c2", "upsert", "rejected", "invalid email")]

    receiver.requests.clear()
    receiver.answer = lambda body: (200, None, {})
    [second] = run_syncs(warehouse, [sync])  # nothing changed, but c2 was never acknowledged
    assert receiver.sent() == ["c2"] and second.accepted == 1
    receiver.requests.clear()
    run_syncs(warehouse, [sync])
    assert receiver.sent() == []


def test_a_batch_refused_whole_is_split_until_the_bad_row_is_alone(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    model(warehouse, [(f"c{i}", f"{i}@x.org", "", True, False) for i in range(8)] + [("c8", "bad", "", True, False)])
    receiver.answer = lambda body: (400, None, {}) if any(r["key"] == "c8" for r in body["rows"]) else (200, None, {})
    [result] = run_syncs(warehouse, [sync])
    assert (result.accepted, result.rejected) == (8, 1)
    assert sorted(receiver.rows) == [f"c{i}" for i in range(8)]


def test_429_and_5xx_are_retried_honouring_retry_after(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    answers = iter([(429, None, {"Retry-After": "0"}), (503, None, {})])
    receiver.answer = lambda body: next(answers, (200, None, {}))
    [result] = run_syncs(warehouse, [sync])
    assert (result.status, result.accepted) == ("succeeded", 1)


class Killed(BaseException):
    """The process dies: not an error the engine handles."""


def test_a_run_killed_after_a_batch_resends_only_what_was_not_acknowledged(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url, batch_size=2))
    model(warehouse, [(f"c{i}", f"{i}@x.org", "", True, False) for i in range(10)])
    record = SyncState.record_batch
    calls = {"n": 0}

    def dies_after_the_fourth_send(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Killed  # the destination got batch 4; its acknowledgement was never written
        return record(self, *args, **kwargs)

    monkeypatch.setattr(SyncState, "record_batch", dies_after_the_fourth_send)
    with pytest.raises(Killed):
        run_syncs(warehouse, [sync])
    monkeypatch.setattr(SyncState, "record_batch", record)
    run_syncs(warehouse, [sync])
    sent = receiver.sent()
    assert sorted(receiver.rows) == sorted(f"c{i}" for i in range(10)), "every row delivered"
    assert len(sent) == 12 and sorted(k for k in set(sent) if sent.count(k) > 1) == ["c6", "c7"]


def test_a_dry_run_sends_nothing_and_writes_nothing(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    [result] = run_syncs(warehouse, [sync], dry_run=True)
    assert result.status == "dry run" and result.planned == 1
    assert result.plan[0].change.fields == {"email": "a@x.org", "source": "tessera", "greeting": "Hello a"}
    assert receiver.requests == []
    assert results(warehouse, "select count(*) from information_schema.schemata where schema_name = 'reverse_etl'") == [
        (0,)
    ]


def test_a_dead_destination_does_not_stop_the_others(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    text = webhook_sync(receiver.url) + webhook_entry("http://127.0.0.1:9/nothing-listens", name="dead_hook")
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    alive, dead = run_syncs(warehouse, syncs(tmp_path, text))
    assert (alive.status, alive.accepted) == ("succeeded", 1)
    assert dead.status == "failed" and "gave up after 3 attempts" in dead.error
    assert results(warehouse, "select sync_name, status from reverse_etl.sync_runs order by 1") == [
        ("dead_hook", "failed"),
        ("people_hook", "succeeded"),
    ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("c1", "a@x.org", "", True, False), (None, "b@x.org", "", True, False)], "1 row(s) with a null customer_id"),
        ([("c1", "a@x.org", "", True, False), ("c1", "b@x.org", "", True, False)], "customer_id is not unique"),
    ],
)
def test_null_or_duplicate_keys_fail_the_sync_and_send_nothing(
    tmp_path: Path, receiver: Receiver, rows: list[tuple], expected: str
) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    model(warehouse, rows)
    [result] = run_syncs(warehouse, [sync])
    assert result.status == "failed" and expected in result.error and "@" not in result.error
    assert receiver.requests == []


def test_a_model_without_the_consent_column_does_not_sync(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema activation; create table activation.sync_people as select 'c1' as customer_id")
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    [result] = run_syncs(warehouse, [sync])
    assert result.status == "failed" and "consent_email_marketing" in result.error


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("consent: email_marketing", None),
        ("consent: nope", "a sync needs the consent purpose"),
        ("mode: audience", "file does not support audience"),
        ("mode: sideways", "'sideways' is not a mode"),
        ("model: people", "'people' is not an activation model"),
        ("token: abc123", "secrets come from the environment"),
    ],
)
def test_definition_mistakes_name_the_file_sync_and_field(tmp_path: Path, change: str, expected: str | None) -> None:
    key, value = change.split(": ")
    fields = {"model": "sync_people", "mode": "mirror", "consent": "email_marketing", key: value}
    destination = "{type: file, path: out.csv" + (f", {key}: {value}" if key == "token" else "") + "}"
    text = "syncs:\n  - name: people_file\n    destination: " + destination + "\n    primary_key: customer_id\n"
    text += "    mapping: {email: email}\n" + "".join(f"    {k}: {v}\n" for k, v in fields.items() if k != "token")
    if expected is None:
        assert syncs(tmp_path, text)[0].consents == ("email_marketing",)
        return
    with pytest.raises(SyncDefinitionError) as raised:
        syncs(tmp_path, text)
    assert "test.yml: syncs[0] (people_file)" in str(raised.value) and expected in str(raised.value)


def test_a_file_drop_holds_exactly_the_acknowledged_rows(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    out = tmp_path / "w" / "drop" / "people.parquet"  # under the files folder of w.duckdb
    text = """
    syncs:
      - name: people_file
        model: sync_people
        destination: {type: file, path: drop/people.parquet}
        mode: mirror
        primary_key: customer_id
        mapping: {email: email}
        consent: email_marketing
    """
    model(warehouse, [("c1", "a@x.org", "", True, False), ("c2", "b@x.org", "", True, False)])
    run_syncs(warehouse, syncs(tmp_path, text))
    model(warehouse, [("c2", "b2@x.org", "", True, False)])
    run_syncs(warehouse, syncs(tmp_path, text))
    with duckdb.connect() as con:
        assert con.execute(f"select * from '{out}'").fetchall() == [("c2", "b2@x.org")]
    assert [path.name for path in out.parent.iterdir()] == ["people.parquet"], "no partial file left"


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_file_drop_keeps_the_models_types_whether_a_run_deletes_or_adds_rows(tmp_path: Path, suffix: str) -> None:
    """Phones of digits only, postal codes with a leading zero, money, times and counts come out as the model has
    them after a run that only deletes rows and after one that adds rows (which used to fail with ArrowInvalid)."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    warehouse = tmp_path / "w.duckdb"
    out = tmp_path / "w" / "drop" / f"people.{suffix}"
    text = f"""
    syncs:
      - name: people_file
        model: sync_typed
        destination: {{type: file, path: drop/people.{suffix}}}
        mode: mirror
        primary_key: customer_id
        mapping: {{phone: phone, postal_code: postal_code, total_spent: total_spent, last_order_at: last_order_at,
                   orders: orders, vip: vip, note: note}}
        consent: email_marketing
    """

    def typed_model(rows: list[tuple]) -> None:
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create schema if not exists activation")
            con.execute(
                "create or replace table activation.sync_typed (customer_id varchar, phone varchar, postal_code "
                "varchar, total_spent decimal(12, 2), last_order_at timestamp, orders integer, vip boolean, "
                "note varchar, consent_email_marketing boolean, is_suppressed boolean)"
            )
            con.executemany("insert into activation.sync_typed values (?, ?, ?, ?, ?, ?, ?, ?, true, false)", rows)

    ann = ("c1", "34612345678", "01234", "12.50", "2026-10-01 10:00:00", 3, True, "")
    bob = ("c2", "33612345678", "00500", "7.00", "2026-10-02 11:30:00", 1, False, None)
    cy = ("c3", "not a number", "75001", "0.10", "2026-10-03 09:00:00", 12, False, "likes tea")
    definitions = syncs(tmp_path, text)
    typed_model([ann, bob])
    run_syncs(warehouse, definitions)
    typed_model([ann])  # a run that only deletes
    [deleted] = run_syncs(warehouse, definitions)
    typed_model([ann, cy])  # a run that adds a row whose phone is not digits
    [added] = run_syncs(warehouse, definitions)
    assert (deleted.status, added.status) == ("succeeded", "succeeded"), (deleted.error, added.error)
    if suffix == "csv":
        table = pa_csv.read_csv(out, convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in ("_record_key", "phone", "postal_code", "note")},
            quoted_strings_can_be_null=False))  # fmt: skip
        rows = {row["_record_key"]: row for row in table.to_pylist()}
        assert (rows["c1"]["phone"], rows["c1"]["postal_code"]) == ("34612345678", "01234"), rows["c1"]
        assert rows["c1"]["note"] == "" and rows["c3"]["note"] == "likes tea"
        assert out.read_text().count("3.46") == 0, "no phone written as a number"
    else:
        table = pq.read_table(out)
        types = {field.name: str(field.type) for field in table.schema}
        assert types == {"_record_key": "string", "phone": "string", "postal_code": "string",
                         "total_spent": "decimal128(12, 2)", "last_order_at": "timestamp[us]", "orders": "int32",
                         "vip": "bool", "note": "string"}  # fmt: skip
        rows = {row["_record_key"]: row for row in table.to_pylist()}
        assert rows["c1"]["postal_code"] == "01234" and rows["c3"]["phone"] == "not a number"
    assert set(rows) == {"c1", "c3"}


@pytest.fixture
def postgres(postgres_dsn: str) -> Iterator[str]:
    import psycopg

    with psycopg.connect(postgres_dsn) as connection:
        connection.execute("drop schema if exists tessera_test cascade")
    yield postgres_dsn
    with psycopg.connect(postgres_dsn) as connection:
        connection.execute("drop schema if exists tessera_test cascade")


def test_a_postgresql_table_follows_the_model_over_a_real_connection(
    tmp_path: Path, postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("TEST_POSTGRES_DSN", postgres)
    warehouse = tmp_path / "w.duckdb"
    text = """
    syncs:
      - name: people_table
        model: sync_people
        destination: {type: postgres, dsn: {env: TEST_POSTGRES_DSN}, table: tessera_test.people}
        mode: mirror
        primary_key: customer_id
        mapping: {email: email, plan: plan, vip: {constant: true}}
        consent: email_marketing
    """
    model(warehouse, [("c1", "a@x.org", "free", True, False), ("c2", "b@x.org", "free", True, False)])
    run_syncs(warehouse, syncs(tmp_path, text))
    model(warehouse, [("c1", "a@x.org", "pro", True, False), ("c3", "c@x.org", "free", True, False)])
    [result] = run_syncs(warehouse, syncs(tmp_path, text))
    assert (result.status, result.accepted) == ("succeeded", 3)  # c1 changed, c3 added, c2 deleted
    with psycopg.connect(postgres) as connection:
        rows = connection.execute("select record_key, email, plan, vip from tessera_test.people order by 1").fetchall()
    assert rows == [("c1", "a@x.org", "pro", True), ("c3", "c@x.org", "free", True)]


def test_every_sync_has_its_dbt_exposure_with_when_it_runs(tmp_path: Path) -> None:
    import yaml

    from orchestration.prepare import EXPOSURES_FILE, project_syncs, write_exposures

    syncs = project_syncs()
    assert write_exposures(syncs, tmp_path) is True and write_exposures(syncs, tmp_path) is False, "once"
    exposures = yaml.safe_load((tmp_path / EXPOSURES_FILE).read_text())["exposures"]
    assert [exposure["name"] for exposure in exposures] == [sync.name for sync in syncs]
    assert all(exposure["config"]["meta"]["schedule"] for exposure in exposures)


def plain(rows: list[dict]) -> list[dict]:
    """Webhook rows without their idempotency keys."""
    return [{name: value for name, value in row.items() if name != "idempotency_key"} for row in rows]


def test_a_row_version_re_sent_after_a_time_out_carries_the_same_idempotency_key(
    tmp_path: Path, receiver: Receiver
) -> None:
    from reverse_etl.destinations.base import Change

    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    run_syncs(warehouse, [sync])
    model(warehouse, [("c1", "b@x.org", "", True, False)])
    run_syncs(warehouse, [sync])
    [first, changed] = [row["idempotency_key"] for r in receiver.requests for row in r["rows"]]
    assert len(first) == 64 and first != changed, "a new version of the row has a new key"
    hook = DESTINATIONS["webhook"](sync, tmp_path)
    fields = {"email": "a@x.org", "source": "tessera", "greeting": "Hello a"}
    assert hook.idempotency_key("upsert", Change("c1", fields)) == first, "re-sent, the same version has the same key"


def request_erasure(warehouse: Path, customer_id: str, request_id: str = "R-1") -> None:
    """marts.privacy_requests as the build writes it, with an erasure applied to `customer_id`."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.privacy_requests as select ? as request_id, 'erase' as request_type, "
            "now()::timestamp - interval 2 day as requested_at, ? as customer_id, 'applied' as status, "
            "1 as matched_records_count",
            [request_id, customer_id],
        )


@pytest.mark.parametrize("mode", ["upsert", "insert", "mirror", "audience"])
def test_an_erasure_reaches_the_webhook_in_every_mode_and_waits_until_it_is_confirmed(
    tmp_path: Path, receiver: Receiver, mode: str
) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url, mode=mode))
    model(warehouse, [("c1", "a@x.org", "", True, False), ("c2", "b@x.org", "", True, False)])
    run_syncs(warehouse, [sync])
    model(warehouse, [("c2", "b@x.org", "", True, False)])  # the build drops the erased customer
    request_erasure(warehouse, "c1")
    receiver.answer = lambda body: (503, None, {}) if body["operation"] == "erase" else (200, None, {})
    [down] = run_syncs(warehouse, [sync])
    assert (down.status, down.erased, down.erasures_pending) == ("failed", 0, 1)
    [(status, attempts, error)] = results(
        warehouse, "select status, attempts, error from reverse_etl.erasure_deliveries"
    )
    assert (status, attempts) == ("pending", 1) and "503" in error
    receiver.requests.clear()
    receiver.answer = lambda body: (200, None, {})
    [up] = run_syncs(warehouse, [sync])
    assert (up.status, up.erased) == ("succeeded", 1), up.error
    [erasure] = [r for r in receiver.requests if r["operation"] == "erase"]
    assert plain(erasure["rows"]) == [
        {"key": "c1", "fields": {"email": "a@x.org", "source": "tessera", "greeting": "Hello a"}}
    ]
    assert results(warehouse, "select status, attempts from reverse_etl.erasure_deliveries") == [("delivered", 2)]
    assert results(warehouse, "select record_key from reverse_etl.sync_state") == [("c2",)]


def test_a_row_an_upsert_sync_stops_sending_keeps_its_state_so_an_erasure_can_still_reach_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url, mode="upsert"))
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    run_syncs(warehouse, [sync])
    model(warehouse, [("c1", "a@x.org", "", False, False)])  # consent withdrawn: the destination keeps the row
    [withdrawn] = run_syncs(warehouse, [sync])
    [(operation, rows)] = [(r["operation"], r["rows"]) for r in receiver.requests if r["operation"] != "upsert"]
    assert (withdrawn.planned, operation) == (1, "withdraw")
    assert plain(rows) == [{"key": "c1", "fields": {"email": None, "source": None, "greeting": None}}]
    [quiet] = run_syncs(warehouse, [sync])
    assert (quiet.planned, quiet.skipped) == (0, 0), "withdrawn once"
    assert results(warehouse, "select record_key, customer_id from reverse_etl.sync_state") == [("c1", "c1")]
    request_erasure(warehouse, "c1")
    [erased] = run_syncs(warehouse, [sync])
    assert erased.erased == 1 and receiver.sent("erase") == ["c1"]


def test_an_erasure_is_delivered_even_when_the_sync_cannot_read_its_model(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url, mode="upsert"))
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    run_syncs(warehouse, [sync])
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table activation.sync_people")
    request_erasure(warehouse, "c1")
    [result] = run_syncs(warehouse, [sync])
    assert result.status == "failed" and "does not exist" in result.error
    assert (result.erased, receiver.sent("erase")) == (1, ["c1"]), "a broken model never holds an erasure back"


def test_file_and_postgres_destinations_delete_an_erased_persons_rows(
    tmp_path: Path, postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("TEST_POSTGRES_DSN", postgres)
    warehouse = tmp_path / "w.duckdb"
    [to_file, to_postgres] = syncs(
        tmp_path,
        """
    syncs:
      - name: people_file
        model: sync_people
        destination: {type: file, path: people.csv}
        mode: upsert
        primary_key: customer_id
        mapping: {email: email}
        consent: email_marketing
      - name: people_pg
        model: sync_people
        destination: {type: postgres, dsn: {env: TEST_POSTGRES_DSN}, table: tessera_test.people}
        mode: insert
        primary_key: customer_id
        mapping: {email: email}
        consent: email_marketing
    """,
    )
    model(warehouse, [("c1", "a@x.org", "", True, False), ("c2", "b@x.org", "", True, False)])
    run_syncs(warehouse, [to_file, to_postgres])
    model(warehouse, [("c2", "b@x.org", "", True, False)])
    request_erasure(warehouse, "c1")
    results_ = run_syncs(warehouse, [to_file, to_postgres])
    assert [(r.status, r.erased) for r in results_] == [("succeeded", 1), ("succeeded", 1)]
    exported = (tmp_path / "w" / "people.csv").read_text()
    assert "a@x.org" not in exported and "b@x.org" in exported
    with psycopg.connect(postgres) as connection:
        assert connection.execute("select record_key from tessera_test.people").fetchall() == [("c2",)]


def test_a_sync_whose_purpose_its_destination_kind_does_not_allow_is_refused_at_load_time(tmp_path: Path) -> None:
    from reverse_etl.sync_files import ConsentPolicy

    folder = tmp_path / "syncs"
    folder.mkdir()
    (folder / "ads.yml").write_text(
        textwrap.dedent("""
        syncs:
          - name: vips_to_meta
            model: sync_people
            destination: {type: meta_custom_audience, access_token: {env: T}, audience_id: "1"}
            mode: audience
            primary_key: customer_id
            mapping: {email: email}
            consent: email_marketing
          - name: vips_by_email_and_ads
            model: sync_people
            destination: {type: webhook, url: "http://127.0.0.1:9/hook", secret: {env: T}}
            mode: upsert
            primary_key: customer_id
            mapping: {email: email}
            consent: [email_marketing, advertising]
        """),
        encoding="utf-8",
    )
    kinds = {name: cls.category for name, cls in DESTINATIONS.items()}
    purposes = ["email_marketing", "sms_marketing", "advertising", "analytics", "personalization"]
    arguments = dict(destination_types=MODES, purposes=purposes, categories=kinds, policy=ConsentPolicy.read())
    with pytest.raises(SyncDefinitionError) as raised:
        load_definitions(folder, **arguments)
    [problem] = raised.value.problems
    assert problem.startswith("ads.yml: syncs[0] (vips_to_meta).consent: a meta_custom_audience destination")
    assert "requires consent advertising under consent_policy.yml" in problem
    (folder / "ads.yml").write_text((folder / "ads.yml").read_text().replace("email_marketing\n", "advertising\n", 1))
    meta, both = load_definitions(folder, **arguments)
    assert (meta.consents, both.consents) == (("advertising",), ("email_marketing", "advertising"))


def test_a_sync_with_several_purposes_sends_only_rows_that_granted_them_all(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema activation")
        con.execute(
            "create table activation.sync_people as select * from (values "
            "('c1', 'a@x.org', true, true, false), ('c2', 'b@x.org', true, false, false)) "
            "t(customer_id, email, consent_email_marketing, consent_advertising, is_suppressed)"
        )
    [sync] = syncs(
        tmp_path,
        webhook_sync(receiver.url, mode="upsert")
        .replace("greeting: {template: \"Hello {{ email.split('@')[0] }}\"}", "")
        .replace("consent: email_marketing", "consent: [email_marketing, advertising]"),
    )
    [result] = run_syncs(warehouse, [sync])
    assert (result.accepted, result.not_eligible, receiver.sent()) == (1, 1, ["c1"])


def test_a_syncs_where_reaches_nothing_outside_the_warehouse(tmp_path: Path, receiver: Receiver) -> None:
    warehouse = tmp_path / "w.duckdb"
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    text = webhook_sync(receiver.url).replace(
        "mode: mirror", "mode: mirror\n        where: \"email in (select * from read_csv('/etc/passwd'))\""
    )
    [result] = run_syncs(warehouse, syncs(tmp_path, text))
    assert result.status == "failed" and "disabled" in result.error and receiver.sent() == []


def test_a_sync_run_is_recorded_as_started_before_anything_is_sent(tmp_path: Path, receiver: Receiver) -> None:
    """A run killed midway stays visible as `started`, and the next run of the sync says it was interrupted."""
    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url))
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    seen = []

    def answer(body: dict) -> tuple[int, None, dict]:
        try:
            with duckdb.connect(str(warehouse)) as con:  # the engine's own database instance, in this process
                seen.extend(con.execute("select status, finished_at is null from reverse_etl.sync_runs").fetchall())
        except duckdb.Error as error:
            seen.append(str(error))
        return 200, None, {}

    receiver.answer = answer
    run_syncs(warehouse, [sync])
    assert seen == [("started", True)], "the run was on record while it was sending"
    with duckdb.connect(str(warehouse)) as con:  # as if the process had died midway through a second run
        con.execute(
            "insert into reverse_etl.sync_runs (run_id, sync_name, started_at, status, full_resync, planned, sent, "
            "accepted, rejected, skipped) values ('killed', 'people_hook', now()::timestamp, 'started', false, 0, 0, "
            "0, 0, 0)"
        )
    run_syncs(warehouse, [sync])
    statuses = results(warehouse, "select run_id = 'killed', status from reverse_etl.sync_runs order by started_at")
    assert statuses == [(False, "succeeded"), (True, "interrupted"), (False, "succeeded")]


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ('{type: webhook, url: "http://127.0.0.1:9/hook"}', "destination.secret: required for a webhook destination"),
        ('{type: postgres, dsn: "postgresql://tessera:hunter2@db:5432/crm", table: public.people}',
         "destination.dsn: holds a credential in clear"),
        ('{type: postgres, dsn: "host=db dbname=crm user=tessera password=hunter2"}',
         "destination.dsn: holds a credential in clear"),
        ('{type: webhook, url: "https://hooks.example.org/in?token=abc123", secret: {env: S}}',
         "destination.url: holds a credential in clear"),
    ],
)  # fmt: skip
def test_a_missing_secret_or_one_written_in_clear_is_refused_at_load_time(
    tmp_path: Path, destination: str, expected: str
) -> None:
    text = f"""
    syncs:
      - name: people_out
        model: sync_people
        destination: {destination}
        mode: upsert
        primary_key: customer_id
        mapping: {{email: email}}
        consent: email_marketing
    """
    with pytest.raises(SyncDefinitionError) as raised:
        syncs(tmp_path, text)
    assert f"test.yml: syncs[0] (people_out).{expected}" in str(raised.value)
    assert "hunter2" not in str(raised.value) and "abc123" not in str(raised.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("where", "\"segment_name = 'vip'; drop table marts.segments\""),
        ("where", "\"segment_name = 'vip' union select * from marts.customer_profiles\""),
        ("model", '"sync_people; drop table marts.segments"'),
        ("model", "marts.customer_profiles"),
    ],
)
def test_a_where_or_model_that_says_more_than_one_thing_is_refused_at_load_time(
    tmp_path: Path, field: str, value: str
) -> None:
    fields = {"model": "sync_people", "where": "\"segment_name = 'vip'\"", field: value}
    text = (
        "syncs:\n  - name: people_file\n    destination: {type: file, path: out.csv}\n    mode: mirror\n"
        "    primary_key: customer_id\n    mapping: {email: email}\n    consent: email_marketing\n"
        + "".join(f"    {key}: {text}\n" for key, text in fields.items())
    )
    with pytest.raises(SyncDefinitionError) as raised:
        syncs(tmp_path, text)
    assert f"test.yml: syncs[0] (people_file).{field}:" in str(raised.value)


@pytest.mark.parametrize("path", ["/etc/cron.d/tessera.csv", "../../outside.csv", "exports/../../outside.csv"])
def test_the_file_destination_stays_inside_its_folder(tmp_path: Path, path: str) -> None:
    warehouse = tmp_path / "w.duckdb"
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    text = f"""
    syncs:
      - name: people_file
        model: sync_people
        destination: {{type: file, path: "{path}"}}
        mode: mirror
        primary_key: customer_id
        mapping: {{email: email}}
        consent: email_marketing
    """
    [result] = run_syncs(warehouse, syncs(tmp_path, text))
    assert result.status == "failed" and "must stay inside the warehouse's files folder" in result.error
    assert not (tmp_path.parent / "outside.csv").exists()


def test_what_a_tessera_command_creates_is_owner_only(tmp_path: Path) -> None:
    import os
    import stat
    import subprocess
    import sys

    env = dict(os.environ, TESSERA_WAREHOUSE=str(tmp_path / "w" / "private.duckdb"))
    subprocess.run(
        [sys.executable, "-m", "orchestration", "generate", "--customers", "5", "--days", "1", "--out",
         str(tmp_path / "landing")], env=env, check=True, capture_output=True,
    )  # fmt: skip
    created = [tmp_path / "landing", *(tmp_path / "landing").rglob("*")]
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in created}
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes


def test_tessera_privacy_reports_what_waits_and_fails_past_the_service_level(
    tmp_path: Path, receiver: Receiver
) -> None:
    import os
    import subprocess
    import sys

    warehouse = tmp_path / "w.duckdb"
    [sync] = syncs(tmp_path, webhook_sync(receiver.url, mode="upsert"))
    model(warehouse, [("c1", "a@x.org", "", True, False)])
    run_syncs(warehouse, [sync])
    request_erasure(warehouse, "c1")  # requested two days ago
    receiver.answer = lambda body: (503, None, {})
    run_syncs(warehouse, [sync])
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    command = [sys.executable, "-m", "orchestration", "privacy"]
    within = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert within.returncode == 0 and "waiting: 1" in within.stdout and "gave up after 3 attempts" in within.stdout
    late = subprocess.run(command, env={**env, "TESSERA_ERASURE_SLA_DAYS": "1"}, capture_output=True, text=True)
    assert (
        late.returncode == 1 and "OVERDUE" in late.stdout and "1 erasure(s) waiting longer than 1 days" in late.stdout
    )


def test_in_a_run_only_the_syncs_that_failed_are_retried_and_each_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three syncs in one step: one succeeds, one finds its destination down for a while, one has its credential
    refused. The first is sent once; only the second is tried again, alone, until it succeeds; the third is not
    retried and fails the step by name."""
    import dagster as dg

    from orchestration.defs.resources import Warehouse
    from orchestration.defs.sync_assets import FAILED_SYNCS, build_sync_assets
    from tessera.settings import settings

    monkeypatch.setenv("TESSERA_STEP_RETRY_SECONDS", "0")
    warehouse = tmp_path / "w.duckdb"
    model(warehouse, [("c1", "ann@example.com", "pro", True, False)])
    receivers = {name: Receiver() for name in ("ok_hook", "flaky_hook", "refused_hook")}
    down_for = [4]  # the flaky destination answers 503 to its first four calls (more than one run's 3 attempts)

    def flaky(body: dict) -> tuple[int, dict | None, dict[str, str]]:
        down_for[0] -= 1
        return (503, None, {}) if down_for[0] >= 0 else (200, None, {})

    calls = {"refused_hook": 0}

    def refused(body: dict) -> tuple[int, dict | None, dict[str, str]]:
        calls["refused_hook"] += 1
        return 401, None, {}

    receivers["flaky_hook"].answer, receivers["refused_hook"].answer = flaky, refused
    definitions = syncs(tmp_path, "\n    syncs:" + "".join(webhook_entry(r.url, name=n) for n, r in receivers.items()))
    try:
        result = dg.materialize(
            build_sync_assets(definitions, settings()), resources={"warehouse": Warehouse(path=str(warehouse))},
            raise_on_error=False,
        )  # fmt: skip
    finally:
        for r in receivers.values():
            r.server.shutdown()
    materialized = {event.asset_key.path[1] for event in result.get_asset_materialization_events()}
    assert materialized == {"ok_hook", "flaky_hook"}
    assert receivers["ok_hook"].sent() == ["c1"], "the sync that succeeded was sent once"
    assert receivers["flaky_hook"].sent() == ["c1"] and down_for[0] < 0
    assert calls["refused_hook"] == 1, "a refused credential is never retried"
    [failure] = [event for event in result.all_events if event.is_step_failure]
    failed = failure.step_failure_data.user_failure_data.metadata[FAILED_SYNCS].value
    assert list(failed) == ["refused_hook"] and "401" in failed["refused_hook"] or "refused" in failed["refused_hook"]
    retries = [event for event in result.all_events if event.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retries == [], "the step itself is not run again"
