"""A dbt-duckdb plugin (profiles.yml: `plugins: [{module: identity.dbt_plugin}]`): every connection dbt opens gets
`tessera_email_key(varchar)` and `tessera_phone_key(varchar, varchar)`, `identity.normalize` as SQL functions,
which the `normalize_email` and `normalize_phone` macros call on DuckDB (other engines use the macros' SQL).

The functions are vectorised (Arrow): each batch's distinct values are read once, so a column of a million
events from ten thousand addresses costs ten thousand readings.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from dbt.adapters.duckdb.plugins import BasePlugin

from .normalize import email_key, phone_key

SEPARATOR = "\x1f"  # between a phone's digits and its country in one lookup key: in neither


class Plugin(BasePlugin):
    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        register(conn)


def register(conn: duckdb.DuckDBPyConnection) -> None:
    """Adds the functions to `conn` (also for tests and for readers outside dbt)."""
    varchar = duckdb.sqltype("VARCHAR")
    conn.create_function(
        "tessera_email_key", _email_keys, [varchar], varchar, type="arrow", null_handling="special", side_effects=False
    )
    conn.create_function(
        "tessera_phone_key",
        _phone_keys,
        [varchar, varchar],
        varchar,
        type="arrow",
        null_handling="special",
        side_effects=False,
    )


def _by_distinct(values: pa.Array, read) -> pa.Array:
    distinct = pc.unique(values)
    readings = pa.array([read(value) for value in distinct.to_pylist()], pa.string())
    return pc.take(readings, pc.index_in(values, value_set=distinct))


def _email_keys(emails: pa.Array) -> pa.Array:
    return _by_distinct(emails, email_key)


def _phone_keys(digits: pa.Array, countries: pa.Array) -> pa.Array:
    keys = pc.binary_join_element_wise(digits, pc.fill_null(countries, ""), SEPARATOR)
    return _by_distinct(keys, lambda key: None if key is None else phone_key(*key.split(SEPARATOR)))
