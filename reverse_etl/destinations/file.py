"""File drop: the synced rows as one CSV or Parquet file, replaced atomically (written beside, then renamed), so
a reader never sees half a file. Settings: `path` (relative to the warehouse's files folder,
`engine.files_folder`, and confined to it: no absolute path, no `..`) and `format` (csv or parquet; default:
from the path's suffix). Each batch rewrites the file with the acknowledged rows plus the batch, so the file
always holds exactly what was acknowledged. An erasure removes the person's rows, in every mode."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .base import Change, Destination, RowAnswer


class FileDestination(Destination):
    type_name: ClassVar[str] = "file"
    category: ClassVar[str] = "file"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update", "mirror")
    batch_size: ClassVar[int] = 1_000_000

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        path = Path(str(sync.setting("path", f"exports/{sync.name}.csv")))
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(
                f"sync {sync.name}: destination.path {str(path)!r} must stay inside the warehouse's files folder "
                "(a relative path without ..)"
            )
        self.path = workdir / path
        self.format = str(sync.setting("format", self.path.suffix.lstrip(".") or "csv"))
        if self.format not in ("csv", "parquet"):
            raise ValueError(f"sync {sync.name}: destination.format {self.format!r} is not csv or parquet")

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        rows = self._read()
        for change in changes:
            exists = change.record_key in rows
            if operation in ("delete", "erase"):
                rows.pop(change.record_key, None)
            elif (operation == "insert" and not exists) or (operation == "update" and exists) or operation == "upsert":
                rows[change.record_key] = change.fields
        self._write(rows)
        return [RowAnswer(change.record_key, True) for change in changes]

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        table = pq.read_table(self.path) if self.format == "parquet" else pa_csv.read_csv(self.path)
        records = table.to_pylist()
        return {str(record.pop("_record_key")): record for record in records}

    def _write(self, rows: dict[str, dict[str, Any]]) -> None:
        fields = [mapping.target for mapping in self.sync.mapping]
        columns = {"_record_key": list(rows), **{name: [row.get(name) for row in rows.values()] for name in fields}}
        table = pa.table({name: pa.array([_plain(v) for v in values]) for name, values in columns.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.partial")
        if self.format == "parquet":
            pq.write_table(table, partial)
        else:
            pa_csv.write_csv(table, partial)
        os.replace(partial, self.path)  # atomic on one file system


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
