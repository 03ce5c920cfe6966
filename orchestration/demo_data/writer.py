"""Writes simulated records into a landing folder, one file per source and day, per `sources.md`.

Records are buffered per household chunk and appended to their day's file, so memory stays bounded whatever the
number of customers. The writer also adds the faults real pipelines see: re-delivered Segment messages and a few
malformed lines and rows (which get no ground-truth row, since no pipeline can load them).
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..sources import (
    MONEY,
    ORDER_LINE_ITEMS,
    SOURCES,
    SOURCES_BY_NAME,
    TRUTH_FOLDER,
    ColumnType,
    FileFormat,
    Source,
)
from .simulate import Record

_ORDER_TYPES = {"created_at": pa.timestamp("us", tz="UTC"), "line_items": ORDER_LINE_ITEMS}
ORDERS_SCHEMA = pa.schema(
    [
        (column.name, _ORDER_TYPES.get(column.name, MONEY if column.type is ColumnType.DECIMAL else pa.string()))
        for column in SOURCES_BY_NAME["orders"].columns
    ]
)
MALFORMED_RATE = 0.0015
REDELIVERY_RATE = 0.005
PARQUET_ROWS_PER_GROUP = 50_000


def day_file(out: Path, source: Source, start: date, day: int) -> Path:
    return out / source.name / f"{source.name}_{(start + timedelta(days=day)).isoformat()}.{source.extension}"


class LandingWriter:
    """Appends records to day files; `close` finalises the Parquet files. Use it as a context manager."""

    def __init__(self, out: Path, start: date, days: int, seed: int) -> None:
        self.out, self.start, self.days = out, start, days
        self.noise = random.Random(f"noise:{seed}")
        self.buffers: dict[tuple[str, int], list] = defaultdict(list)
        self.orders: dict[int, list[dict]] = defaultdict(list)
        self.truth: list[tuple[str, str, str]] = []
        self.written: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self.parquet: dict[int, pq.ParquetWriter] = {}
        for source in SOURCES:
            (out / source.name).mkdir(parents=True)
            for day in range(days):
                path = day_file(out, source, start, day)
                if source.format is FileFormat.CSV:
                    path.write_text(",".join(source.column_names) + "\n", encoding="utf-8")
                elif source.format is FileFormat.JSONL:
                    path.touch()
                else:
                    self.parquet[day] = pq.ParquetWriter(path, ORDERS_SCHEMA)
        (out / TRUTH_FOLDER).mkdir()
        (out / TRUTH_FOLDER / "identity.csv").write_text("source,record_id,person_id\n", encoding="utf-8")

    def __enter__(self) -> LandingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, record: Record) -> None:
        source, line = record.source, record.values
        if source != "orders" and self.noise.random() < MALFORMED_RATE:
            self.buffers[(source, record.day)].append(self._malformed(source, record.values))
            self.malformed[source] += 1
            return
        if source == "orders":
            self.orders[record.day].append(line)
        else:
            self.buffers[(source, record.day)].append(line)
        self.written[source] += 1
        if record.record_id and record.person_id:
            self.truth.append((source, record.record_id, record.person_id))
        if source in ("web_events", "app_events") and self.noise.random() < REDELIVERY_RATE:
            retry_day = min(record.day + self.noise.randrange(2), self.days - 1)
            self.buffers[(source, retry_day)].append(line)  # a retry: the same messageId, delivered again
            self.written[source] += 1

    def _malformed(self, source: str, values: dict) -> dict | list | str:
        """A record as a broken producer would write it: cut short, or with a value nobody can parse."""
        spec = SOURCES_BY_NAME[source]
        if spec.format is FileFormat.JSONL:
            if self.noise.random() < 0.5:
                text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
                return text[: len(text) // 2]  # cut short: not JSON
            stamp = next(c for c in spec.columns if c.type in (ColumnType.TIMESTAMP, ColumnType.UNIX_SECONDS))
            return dict(values, **{stamp.path or stamp.name: "yesterday"})  # a time nobody can read
        row = [str(values.get(name) or "") for name in spec.column_names]
        timestamps = [i for i, c in enumerate(spec.columns) if c.type is ColumnType.TIMESTAMP and row[i]]
        if timestamps and self.noise.random() < 0.5:
            row[timestamps[0]] = "31/02/2026 25:61"
        else:
            row = row[:-1]  # a lost trailing field: wrong column count
        return row

    def flush(self) -> None:
        for (source_name, day), rows in sorted(self.buffers.items()):
            source = SOURCES_BY_NAME[source_name]
            path = day_file(self.out, source, self.start, day)
            with path.open("a", encoding="utf-8", newline="") as handle:
                if source.format is FileFormat.CSV:
                    writer = csv.writer(handle, lineterminator="\n")
                    for row in rows:
                        writer.writerow(
                            row if isinstance(row, list) else [row.get(c, "") or "" for c in source.column_names]
                        )
                else:
                    for row in rows:
                        text = (
                            row if isinstance(row, str) else json.dumps(row, ensure_ascii=False, separators=(",", ":"))
                        )
                        handle.write(text + "\n")
        self.buffers.clear()
        for day, rows in self.orders.items():
            if len(rows) >= PARQUET_ROWS_PER_GROUP:
                self._write_orders(day)
        with (self.out / TRUTH_FOLDER / "identity.csv").open("a", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(self.truth)
        self.truth.clear()

    def _write_orders(self, day: int) -> None:
        rows = self.orders.pop(day, [])
        if not rows:
            return
        columns = {name: [row[name] for row in rows] for name in ORDERS_SCHEMA.names}
        for name in ("subtotal", "discount", "shipping", "total"):
            columns[name] = [Decimal(value) for value in columns[name]]
        columns["line_items"] = [
            [dict(item, unit_price=Decimal(item["unit_price"])) for item in items] for items in columns["line_items"]
        ]
        self.parquet[day].write_table(pa.table(columns, schema=ORDERS_SCHEMA))

    def close(self) -> None:
        self.flush()
        for day in sorted(self.parquet):
            self._write_orders(day)
            self.parquet[day].close()
