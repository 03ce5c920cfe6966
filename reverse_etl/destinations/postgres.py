"""A PostgreSQL table kept in step with the sync, over a real connection (psycopg 3).

Settings: `dsn` (a libpq connection string; write `{env: VARIABLE}` when it holds a password) and `table`
(`schema.table`). The table is created if missing, with `record_key text primary key` and one column per
mapped field, typed from the first rows sent. Each batch is one transaction: its commit is the acknowledgement.
An erasure deletes the person's rows, in every mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import psycopg
from psycopg import sql
from pydantic import Field

from .base import Change, Destination, DestinationSettings, RowAnswer, Text

SQL_TYPES = ((bool, "boolean"), (int, "bigint"), (float, "double precision"))


class PostgresSettings(DestinationSettings):
    dsn: Text = Field(description="The PostgreSQL connection string (with a password: from the environment).")
    table: str | None = Field(None, description="schema.table; default public.<sync>.")


class PostgresDestination(Destination):
    type_name: ClassVar[str] = "postgres"
    settings_model: ClassVar[type[DestinationSettings]] = PostgresSettings
    category: ClassVar[str] = "database"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update", "mirror")
    batch_size: ClassVar[int] = 1000

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        schema, _, table = str(sync.setting("table", f"public.{sync.name}")).rpartition(".")
        self.schema = sql.Identifier(schema or "public")
        self.table = sql.Identifier(schema or "public", table)
        self.fields = [mapping.target for mapping in sync.mapping]
        self._connection: psycopg.Connection | None = None

    @property
    def connection(self) -> psycopg.Connection:
        if self._connection is None:
            self._connection = psycopg.connect(str(self.sync.setting("dsn")), connect_timeout=10)
        return self._connection

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            self._ensure_table(cursor, changes)
            if operation in ("delete", "erase"):
                cursor.execute(
                    sql.SQL("delete from {} where record_key = any(%s)").format(self.table),
                    [[change.record_key for change in changes]],
                )
                return [RowAnswer(change.record_key, True) for change in changes]
            if operation == "update":
                return [self._update(cursor, change) for change in changes]
            columns = sql.SQL(", ").join(map(sql.Identifier, ["record_key", *self.fields]))
            placeholders = sql.SQL(", ").join(sql.Placeholder() * (len(self.fields) + 1))
            if operation == "insert":
                conflict = sql.SQL("do nothing")
            else:
                conflict = sql.SQL("do update set ") + sql.SQL(", ").join(
                    sql.SQL("{0} = excluded.{0}").format(sql.Identifier(name)) for name in self.fields
                )
            statement = sql.SQL("insert into {} ({}) values ({}) on conflict (record_key) ").format(
                self.table, columns, placeholders
            )
            cursor.executemany(statement + conflict, [self._values(change) for change in changes])
        return [RowAnswer(change.record_key, True) for change in changes]

    def _update(self, cursor: psycopg.Cursor, change: Change) -> RowAnswer:
        assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in self.fields)
        cursor.execute(
            sql.SQL("update {} set {} where record_key = %s").format(self.table, assignments),
            [*self._values(change)[1:], change.record_key],
        )
        return RowAnswer(change.record_key, cursor.rowcount == 1, None if cursor.rowcount else "no such row to update")

    def _values(self, change: Change) -> list[Any]:
        return [change.record_key, *(change.fields.get(name) for name in self.fields)]

    def _ensure_table(self, cursor: psycopg.Cursor, changes: list[Change]) -> None:
        def sql_type(name: str) -> str:
            value = next((c.fields.get(name) for c in changes if c.fields.get(name) is not None), None)
            return next((type_name for kind, type_name in SQL_TYPES if isinstance(value, kind)), "text")

        cursor.execute(sql.SQL("create schema if not exists {}").format(self.schema))
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(sql_type(name))) for name in self.fields
        )
        cursor.execute(
            sql.SQL("create table if not exists {} (record_key text primary key, {})").format(self.table, columns)
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
