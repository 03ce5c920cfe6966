"""File drop: the synced rows as one CSV or Parquet file, replaced atomically (written beside, then renamed), so
a reader never sees half a file. Settings: `path` (relative to the warehouse's files folder,
`engine.files_folder`, and confined to it: no absolute path, no `..`) and `format` (csv or parquet; default:
from the path's suffix). Each batch rewrites the file with the acknowledged rows plus the batch, so the file
always holds exactly what was acknowledged. An erasure removes the person's rows, in every mode. Values keep
their types whatever the run does (only deletes, adds rows): a CSV is read back as text, exactly as written, and
a Parquet file is written with the activation model's declared types."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pydantic import Field

from .base import Change, Destination, DestinationSettings, RowAnswer


class FileSettings(DestinationSettings):
    path: str | None = Field(None, description="Under the warehouse's files folder; default exports/<sync>.csv.")
    format: Literal["csv", "parquet"] | None = Field(None, description="Default: the path's extension, else csv.")


class FileDestination(Destination):
    type_name: ClassVar[str] = "file"
    settings_model: ClassVar[type[DestinationSettings]] = FileSettings
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
        self.declared: dict[str, pa.DataType] = {}  # the mapped fields' types in the activation model
        self.found: dict[str, pa.DataType] = {}  # the column types of the Parquet file as it is

    def declare(self, types: dict[str, pa.DataType | None]) -> None:
        self.declared = {name: kind for name, kind in types.items() if kind is not None}

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
        """The rows the file holds, each value as it was written: a CSV's as text (a phone stays `+33612345678`,
        a postal code `01234`), a Parquet file's with its column types."""
        if not self.path.exists():
            return {}
        if self.format == "parquet":
            table = pq.read_table(self.path)
            self.found = {field.name: field.type for field in table.schema}
        else:
            with self.path.open(newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), [])
            table = pa_csv.read_csv(
                self.path,
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,  # "" is an empty value, a bare empty field a null
                ),
            )
        records = table.to_pylist()
        return {str(record.pop("_record_key")): record for record in records}

    def _write(self, rows: dict[str, dict[str, Any]]) -> None:
        fields = [mapping.target for mapping in self.sync.mapping]
        columns = {"_record_key": list(rows), **{name: [row.get(name) for row in rows.values()] for name in fields}}
        table = pa.table({name: self._column(name, values) for name, values in columns.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.partial")
        if self.format == "parquet":
            pq.write_table(table, partial)
        else:
            pa_csv.write_csv(table, partial)
        os.replace(partial, self.path)  # atomic on one file system

    def _column(self, name: str, values: list[Any]) -> pa.Array:
        """A CSV column is text, each value written as the model gave it; a Parquet column has the model's
        declared type (else the type the file has, else what the values are); values that no longer fit the
        declared type (the model changed it) are written as text rather than failing the sync."""
        if self.format != "parquet" or name == "_record_key":
            return pa.array([_text(value) for value in values], pa.string())
        kind = self.declared.get(name) or self.found.get(name)
        if kind is not None and not pa.types.is_null(kind):
            try:
                return pa.array(values, kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                pass
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([_text(value) for value in values], pa.string())


def _text(value: Any) -> str | None:
    """A value's text in a CSV: as it reads (`true`, `12.50`, `2026-10-01 10:00:00`), None for a null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
