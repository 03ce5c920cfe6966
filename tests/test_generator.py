"""The demo data generator: deterministic, on contract, and as messy as the scenario promises."""

from __future__ import annotations

import csv
import filecmp
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from orchestration.demo_data import LandingFolderNotEmpty, generate
from orchestration.demo_data.people import OPTED_OUT_ADVERTISING_ID
from orchestration.sources import SOURCES, FileFormat

from .conftest import SMALL


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_same_arguments_give_the_same_bytes(tmp_path: Path, small_landing) -> None:
    first, _ = small_landing
    second = tmp_path / "again"
    generate(second, **SMALL)
    assert _tree(first) == _tree(second)
    _, mismatches, errors = filecmp.cmpfiles(first, second, _tree(first), shallow=False)
    assert mismatches == [] and errors == []


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", customers=50, days=2, seed=1)
    generate(tmp_path / "b", customers=50, days=2, seed=2)
    a = (tmp_path / "a" / "_truth" / "identity.csv").read_bytes()
    assert a != (tmp_path / "b" / "_truth" / "identity.csv").read_bytes()


def test_refuses_to_write_into_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_text("x")
    with pytest.raises(LandingFolderNotEmpty, match=str(tmp_path)):
        generate(tmp_path, customers=5, days=1, seed=1)


def test_every_source_has_a_file_per_day_on_contract(small_landing) -> None:
    landing, _ = small_landing
    for source in SOURCES:
        files = sorted((landing / source.name).iterdir())
        assert len(files) == SMALL["days"], source.name
        for path in files:
            assert path.suffix == f".{source.extension}"
            if source.format is FileFormat.CSV:
                with path.open(encoding="utf-8") as handle:
                    assert next(csv.reader(handle)) == source.column_names
            elif source.format is FileFormat.PARQUET:
                assert pq.ParquetFile(path).schema_arrow.names == source.column_names


def _jsonl(landing: Path, source: str) -> list[dict]:
    events = []
    for path in sorted((landing / source).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a deliberately malformed line
    return events


def test_truth_names_every_identifiable_record_once(small_landing) -> None:
    landing, summary = small_landing
    with (landing / "_truth" / "identity.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keys = Counter((row["source"], row["record_id"]) for row in rows)
    assert keys.most_common(1)[0][1] == 1
    web_ids = {e["messageId"] for e in _jsonl(landing, "web_events") if isinstance(e.get("timestamp"), str)}
    truth_web = {row["record_id"] for row in rows if row["source"] == "web_events"}
    assert truth_web and truth_web <= web_ids
    assert {row["source"] for row in rows} >= {"crm_contacts", "web_events", "orders", "email_events"}


def test_the_data_is_as_messy_as_real_exports(small_landing) -> None:
    landing, summary = small_landing
    web = _jsonl(landing, "web_events")
    message_ids = Counter(e["messageId"] for e in web)
    assert any(count > 1 for count in message_ids.values()), "no re-delivered Segment messages"
    assert sum(summary.malformed.values()) > 0, "no malformed lines"
    app = _jsonl(landing, "app_events")
    assert any(e.get("context", {}).get("device", {}).get("advertisingId") == OPTED_OUT_ADVERTISING_ID for e in app)
    identified = [e for e in web if e["type"] == "identify" and e.get("userId")]
    users_by_email: dict[str, set[str]] = {}
    for event in identified:
        users_by_email.setdefault(event["traits"]["email"].strip().lower(), set()).add(event["userId"])
    assert any(len(users) > 1 for users in users_by_email.values()), "no family sharing an email"
    assert any(e["traits"]["email"] != e["traits"]["email"].strip().lower() for e in identified), "no messy emails"
    with (landing / "crm_contacts" / sorted(p.name for p in (landing / "crm_contacts").iterdir())[0]).open() as f:
        contacts = list(csv.DictReader(f))
    assert any(c["contact_id"].endswith("-D") for c in contacts), "no duplicate CRM contacts"
    anonymous = [e for e in web if "userId" not in e]
    assert len(anonymous) > len(web) / 3, "most browsing should be anonymous"
