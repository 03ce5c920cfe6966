"""The Great Expectations suites, written in code and versioned with it (bump SUITES_VERSION when one changes).

- `raw.<source>`: for every landing source, from its contract (orchestration/sources.py): the contract's columns
  are there, values have the contract's types, enumerations stay in their value sets, record ids are not null,
  timestamps fall in a sane range, and the share of rows quarantined stays under `TESSERA_MAX_QUARANTINE_RATIO`
  (0.05).
- `marts.customer_profiles`: one row per customer, emails that are addresses, phones in E.164, consent booleans
  never null, and no personal data left on an erased customer.
- `marts.segment_memberships`: each segment's size within `TESSERA_MAX_SEGMENT_CHANGE` of its size before the
  last build (for segments of at least `TESSERA_SEGMENT_CHANGE_MIN_SIZE` members).
- `activation.sync_*`: one row per key, emails and phones well formed, consent booleans and `is_suppressed`
  never null.

Each suite says which rows it reads (`query`, on the warehouse) so that a check validates exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import duckdb
import great_expectations.expectations as gxe

from tessera.settings import consent_purposes, settings

from ..loading.convert import EARLIEST, latest
from ..sources import VALUE_SETS, ColumnType, Source

SUITES_VERSION = "2"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164 = r"^\+[1-9][0-9]{6,14}$"

# The pandas types each other contract type may arrive as (GX validates a DataFrame read from DuckDB); strings
# arrive as `string_dtype()`.
PANDAS_TYPES: dict[ColumnType, list[str]] = {
    ColumnType.TIMESTAMP: ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64"],
    ColumnType.UNIX_SECONDS: ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64"],
    ColumnType.DATE: ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64", "object"],
    ColumnType.DECIMAL: ["float64", "object"],
    ColumnType.INTEGER: ["int32", "int64", "Int32", "Int64", "float64"],
}
# Erased customers keep their id and flags, nothing that names them.
PROFILE_PII = ("email", "phone", "first_name", "last_name", "city", "postal_code")


def value_sets(source: str) -> dict[str, tuple[str, ...]]:
    """A source's enumerated columns; consent purposes are the dbt project's (var `consent_purposes`)."""
    sets = dict(VALUE_SETS.get(source, {}))
    if source == "consent_events":
        sets["purpose"] = tuple(consent_purposes())
    return sets


@cache
def string_dtype() -> str:
    """The name of the pandas dtype DuckDB gives a VARCHAR column: `str` with pandas 3, `object` before."""
    return str(duckdb.sql("select 'text' as value").df().dtypes["value"])


@dataclass(frozen=True)
class Suite:
    name: str  # also the asset it checks: `raw.orders` is raw/orders
    query: str  # the rows it validates
    expectations: list[gxe.Expectation] = field(repr=False)

    @property
    def asset_path(self) -> list[str]:
        return self.name.split(".", 1)


def raw_columns_suite(source: Source) -> Suite:
    """The contract's columns are all in the raw table (read from its empty result: no rows needed)."""
    names = [column.name for column in source.columns]
    expectations = [gxe.ExpectTableColumnsToMatchSet(column_set=[*names, "_file", "_loaded_at"], exact_match=False)]
    return Suite(f"raw.{source.name}", f"select * from raw.{source.name} limit 0", expectations)


def raw_suite(source: Source, files: list[str] | None = None) -> Suite:
    """A source's values in the rows of `files` (default: every file): only the contract's columns are read, so
    memory follows the rows, not the raw JSON payloads kept beside them."""
    checked = [column for column in source.columns if column.type is not ColumnType.NESTED]  # Parquet-enforced
    expectations: list[gxe.Expectation] = [gxe.ExpectColumnValuesToNotBeNull(column=source.record_id)]
    for column in checked:
        if column.type is ColumnType.STRING:  # GX's type list misses pandas 3's string dtype; its type check does not
            expectations.append(gxe.ExpectColumnValuesToBeOfType(column=column.name, type_=string_dtype()))
        else:
            expectations.append(
                gxe.ExpectColumnValuesToBeInTypeList(column=column.name, type_list=PANDAS_TYPES[column.type])
            )
        if column.type in (ColumnType.TIMESTAMP, ColumnType.UNIX_SECONDS):
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=EARLIEST, max_value=latest())
            )
    for column, values in value_sets(source.name).items():
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values)))
    where = "" if files is None else " where _file in (" + ", ".join(f"'{name}'" for name in files) + ")"
    enumerated = value_sets(source.name)
    columns = ", ".join(
        f'lower(trim("{column.name}")) as "{column.name}"' if column.name in enumerated else f'"{column.name}"'
        for column in checked
    )  # enumerations are compared as staging reads them, and as the loaders checked them
    return Suite(f"raw.{source.name}", f"select {columns} from raw.{source.name}{where}", expectations)


def quarantine_suite(source: Source, files: list[str] | None = None) -> Suite:
    """The share of the files' rows the loader quarantined, from the load manifest."""
    limit = settings().max_quarantine_ratio
    where = "" if files is None else " and file in (" + ", ".join(f"'{name}'" for name in files) + ")"
    query = (
        "select sum(quarantined)::double / greatest(sum(rows + quarantined), 1) as quarantine_ratio "
        f"from raw._loads where source = '{source.name}'{where}"
    )
    return Suite(
        f"raw.{source.name}",
        query,
        [gxe.ExpectColumnValuesToBeBetween(column="quarantine_ratio", min_value=0, max_value=limit)],
    )


def profiles_suite() -> Suite:
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToBeUnique(column="customer_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL),
        gxe.ExpectColumnValuesToMatchRegex(column="phone", regex=E164),
        *(gxe.ExpectColumnValuesToNotBeNull(column=f"consent_{purpose}") for purpose in consent_purposes()),
        *(
            gxe.ExpectColumnValuesToBeNull(column=column, row_condition="is_erased==True", condition_parser="pandas")
            for column in PROFILE_PII
        ),
    ]
    return Suite("marts.customer_profiles", "select * from marts.customer_profiles", expectations)


def segment_sizes_suite() -> Suite:
    """Each segment's size now against before the last build that changed it (its entries and exits undone)."""
    current = settings()
    limit, minimum = current.max_segment_change, current.segment_change_min_size
    query = f"""
        with sizes as (
            select segment_name, count(*) as size_now from marts.segment_memberships group by 1
        ),
        last_run as (
            select segment_name,
                   count(*) filter (where change = 'entered') as entered,
                   count(*) filter (where change = 'exited') as exited
            from marts.segment_membership_changes
            where run_id = (select run_id from marts.segment_membership_changes order by changed_at desc limit 1)
            group by 1
        ),
        compared as (
            select coalesce(s.segment_name, l.segment_name) as segment_name,
                   coalesce(s.size_now, 0) as size_now,
                   coalesce(s.size_now, 0) - coalesce(l.entered, 0) + coalesce(l.exited, 0) as size_before
            from sizes s full join last_run l using (segment_name)
        )
        select segment_name, size_now, size_before,
               abs(size_now - size_before)::double / size_before as relative_change
        from compared
        where size_before >= {minimum}
    """
    return Suite(
        "marts.segment_memberships",
        query,
        [gxe.ExpectColumnValuesToBeBetween(column="relative_change", min_value=0, max_value=limit)],
    )


def activation_suite(model: str, key: str, columns: list[str]) -> Suite:
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToBeUnique(column=key),
        gxe.ExpectColumnValuesToNotBeNull(column=key),
        gxe.ExpectColumnValuesToNotBeNull(column="is_suppressed"),
        *(gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns if c.startswith("consent_")),
    ]
    if "email" in columns:
        expectations.append(gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL))
    if "phone" in columns:
        expectations.append(gxe.ExpectColumnValuesToMatchRegex(column="phone", regex=E164))
    return Suite(f"activation.{model}", f"select * from activation.{model}", expectations)
