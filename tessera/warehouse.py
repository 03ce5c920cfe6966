"""The one way every part of Tessera opens the warehouse, wherever its path came from (`settings().warehouse`,
a Dagster resource, a command's `--demo`).

- `connect`: a writer (the loaders, the sync engine, the privacy purge), with DuckDB's memory limit set;
- `read_only`: a reader (`tessera query`, `segments`, `docs`, the checks, the landing sensor), which says which
  process holds the warehouse when a build does, or waits for it;
- `sandboxed`: a connection that a user's SQL text reaches (`tessera query`, a sync's `where`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

LOADER_MEMORY_LIMIT = "512MB"  # what a loader connection may cache


def connect(warehouse: Path, memory_limit: str | None = LOADER_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """A writing connection (the folder made if need be). DuckDB caches as much of the database as it may; its
    memory limit is what keeps a loader's memory bounded however much data has been loaded (None: DuckDB's own
    default, for a connection that must hold a whole model)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    if memory_limit is not None:
        con.execute("set memory_limit = ?", [memory_limit])
    return con


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchone()[0]
    )


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse (DuckDB lets one process write, and none read meanwhile); the message
    says which, and what to do."""


HOLDER = re.compile(r"\(PID (\d+)\)")


def read_only(warehouse: Path, wait_seconds: float = 0) -> duckdb.DuckDBPyConnection:
    """A read-only connection for a reader (`tessera query`, `segments`, `docs`, the landing sensor): when a
    build holds the warehouse, waits up to `wait_seconds` for it, then raises `WarehouseBusy` naming the
    process that holds it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(warehouse), read_only=True)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(_busy_message(warehouse, str(error), wait_seconds)) from None
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))


def sandboxed(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """`con` with no way out of the warehouse: no file read or written (`COPY ... TO`, `EXPORT DATABASE`,
    `read_csv('/etc/passwd')`, attaching another database), no extension installed, and the configuration locked
    so that the query cannot turn it back on. For every connection a user's SQL text reaches."""
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con


def _busy_message(warehouse: Path, error: str, waited: float) -> str:
    found = HOLDER.search(error)
    holder = "another process"
    if found:
        pid = found[1]
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            command = ""
        holder = f"process {pid}" + (f" ({_command_name(command)})" if command else "")
    after = f" after waiting {waited:g} s" if waited else ""
    return (
        f"{warehouse} is held by {holder}{after}: a build is writing it. Retry when it has finished, "
        "or pass --wait to wait for it."
    )


def _command_name(command: str) -> str:
    """`tessera run` for the process of `tessera run` (or `python -m orchestration run`), else the command."""
    words = command.split()
    for index, word in enumerate(words):
        if word == "orchestration" or word.endswith("/tessera") or word == "tessera":
            return " ".join(["tessera", *words[index + 1 : index + 2]])
    return command[:80]
