"""A dbt-duckdb plugin (profiles.yml: `plugins: [{module: identity.dbt_plugin}]`): every connection dbt opens gets
`tessera_email_key(varchar)` and `tessera_phone_key(varchar, varchar)`, `identity.normalize` as SQL functions,
which the `normalize_email` and `normalize_phone` macros call on DuckDB (other engines use the macros' SQL).

The functions are vectorised (Arrow): each batch's distinct values are read once, so a column of a million
events from ten thousand addresses costs ten thousand readings. Plain ASCII addresses, most of any export, are
not read by email-validator at all: a regular expression over the whole batch finds those whose key is simply
their lower-case form (`PLAIN_ADDRESS`), and only the others are read one by one.
"""

from __future__ import annotations

from functools import reduce

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from dbt.adapters.duckdb.plugins import BasePlugin
from email_validator import SPECIAL_USE_DOMAIN_NAMES

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


# An address that email-validator takes as it is, and whose key (`email_key`) is its lower-case form: ASCII
# dot-atoms before the `@`, a domain of letter-or-digit labels (hyphens inside) under a top-level domain of
# letters, with nothing around it. Left to email-validator: anything else, and within this shape a local part
# over 64 characters, an address over 254, a label over 63, a label with `--` (`xn--`: IDNA's to check), and the
# special-use names it refuses (`.test`, `.local`, ...).
ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = rf"^{ATEXT}(\.{ATEXT})*@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]+$"
NOT_PLAIN_DOMAIN = (
    r"@(.*--|(.*\.)?[A-Za-z0-9-]{64}"
    + "".join(rf"|(.*\.)?(?i:{name})$" for name in sorted(SPECIAL_USE_DOMAIN_NAMES))
    + ")"
)


def _email_keys(emails: pa.Array) -> pa.Array:
    plain = pc.fill_null(
        reduce(
            pc.and_kleene,
            [
                pc.match_substring_regex(emails, PLAIN_ADDRESS),
                pc.invert(pc.match_substring_regex(emails, NOT_PLAIN_DOMAIN)),
                pc.less_equal(pc.utf8_length(emails), 254),
                pc.less_equal(pc.find_substring(emails, "@"), 64),
            ],
        ),
        False,
    )
    read = _by_distinct(pc.if_else(plain, pa.scalar(None, pa.string()), emails), email_key)
    return pc.if_else(plain, pc.utf8_lower(emails), read)


def _phone_keys(digits: pa.Array, countries: pa.Array) -> pa.Array:
    keys = pc.binary_join_element_wise(digits, pc.fill_null(countries, ""), SEPARATOR)
    return _by_distinct(keys, lambda key: None if key is None else phone_key(*key.split(SEPARATOR)))
