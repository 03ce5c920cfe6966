"""The suites as Dagster asset checks. The reason (table, column, expectation, a few masked values) is the
check's description, and every expectation's result is kept in the check's metadata, viewable in the Dagster UI.

- Raw: `raw_validation` validates the files a loader has not yet validated under this SUITES_VERSION (its own
  run's, and any that failed before); results per file in `raw._validations`. Files are validated in groups of
  at most `TESSERA_VALIDATION_ROWS` rows (500,000), so memory stays bounded on a first load of months. One bad
  row stops nothing: the loaders quarantined it (with its reason), and the check *warns* with the count. A file
  whose share of quarantined rows (of at least RATIO_MIN_ROWS, 100) passes `TESSERA_MAX_QUARANTINE_RATIO`
  (0.05), or whose values break the
  contract, *fails* the check and is held back: its rows never reach the models (`accepted_rows` in staging),
  while everything else, and above all the privacy path, runs. So raw checks do not block (a blocking check would
  stop the whole dbt build); the consent and erasure sources are never held back at all.
- Marts and activation: `warehouse_checks` validates `marts.customer_profiles`, `marts.segment_memberships` and
  every `activation.sync_*` model after dbt built them, before the syncs. These are blocking: marts or
  activation models that break their contract never reach a destination.

No `from __future__ import annotations` here: Dagster reads the check function's annotations as real types.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import duckdb

from tessera.settings import settings
from tessera.warehouse import table_exists

from ..quality.suites import (
    SUITES_VERSION,
    activation_suite,
    profiles_suite,
    quarantine_suite,
    raw_columns_suite,
    raw_suite,
    segment_sizes_suite,
)
from ..quality.validate import Outcome, validate
from ..sources import Source
from .resources import Warehouse

CHECK_NAME = "great_expectations"
# A file's share of quarantined rows counts at least this many rows: one bad row in a small daily file (15
# loyalty enrolments) is a warning, not a file held back.
RATIO_MIN_ROWS = 100
# Never held back, whatever their share of bad rows: what they carry (an erasure, a suppression, a withdrawal of
# consent) must be applied on every run.
PRIVACY_SOURCES = ("consent_events", "erasure_requests")
ACTIVATION_KEYS = {"sync_customers": "customer_id", "sync_segment_members": "membership_id"}
MART_SUITES = {"marts/customer_profiles": profiles_suite, "marts/segment_memberships": segment_sizes_suite}


def check_spec(key: dg.AssetKey, what: str, blocking: bool = True) -> dg.AssetCheckSpec:
    effect = (
        "Blocking: a failure stops what is downstream."
        if blocking
        else "A failed file is held back from the models; rows quarantined warn."
    )
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=key,
        blocking=blocking,
        description=f"Great Expectations suite {'.'.join(key.path)} (version {SUITES_VERSION}): {what}. {effect}",
    )


def check_result(
    outcomes: list[Outcome], asset_key: dg.AssetKey | None = None, rows: int | None = None
) -> dg.AssetCheckResult:
    """`rows`: the rows validated, when not every outcome's rows are the table's (the quarantine share)."""
    failed = [outcome for outcome in outcomes if not outcome.passed]
    rows = sum(outcome.rows for outcome in outcomes) if rows is None else rows
    results = [{"suite": outcome.suite, **result} for outcome in outcomes for result in outcome.results]
    return dg.AssetCheckResult(
        check_name=CHECK_NAME,
        asset_key=asset_key,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=("; ".join(outcome.describe() for outcome in failed) or f"{rows:,} rows meet the suite")[:2000],
        metadata={
            "suite_version": SUITES_VERSION,
            "rows_validated": rows,
            "expectations_failed": sum(len(outcome.failures) for outcome in outcomes),
            "results": dg.MetadataValue.md(_table(results)),
        },
    )


# Raw -----------------------------------------------------------------------------------------------------------
def raw_validation(con: duckdb.DuckDBPyConnection, source: Source) -> dg.AssetCheckResult:
    """Validates the source's files not yet validated (or that failed), records the outcome per file: a file
    fails when its group breaks the suite or its own share of quarantined rows passes the limit."""
    con.execute(
        "create table if not exists raw._validations (file varchar, suite_version varchar, passed boolean, "
        "validated_at timestamp, primary key (file, suite_version))"
    )
    pending = con.execute(
        "select l.file, l.rows from raw._loads l left join raw._validations v "
        "on v.file = l.file and v.suite_version = ? where l.source = ? and v.passed is not true order by l.file",
        [SUITES_VERSION, source.name],
    ).fetchall()
    columns = validate(con, raw_columns_suite(source))
    if not columns.passed:  # without the contract's columns, its values cannot be read
        return check_result([columns], rows=0)
    outcomes, rows, failed_files = [], 0, []
    current = settings()
    limit = current.max_quarantine_ratio
    for files in _groups(pending, current.validation_rows):
        outcome = validate(con, raw_suite(source, files))
        quarantine = validate(con, quarantine_suite(source, files))
        outcomes += [outcome, quarantine]
        rows += outcome.rows
        over = {
            file
            for (file,) in con.execute(
                "select file from raw._loads where file in (select unnest(?::varchar[])) "
                "and quarantined::double / greatest(rows + quarantined, ?) > ?",
                [files, RATIO_MIN_ROWS, limit],
            ).fetchall()
        }
        now = datetime.now(UTC).replace(tzinfo=None)
        verdicts = [(file, outcome.passed and file not in over) for file in files]
        failed_files += [file for file, passed in verdicts if not passed]
        con.executemany(
            "insert or replace into raw._validations values (?, ?, ?, ?)",
            [(file, SUITES_VERSION, passed, now) for file, passed in verdicts],
        )
    if not outcomes:
        return dg.AssetCheckResult(
            check_name=CHECK_NAME, passed=True, description="no new files to validate",
            metadata={"suite_version": SUITES_VERSION, "rows_validated": 0},
        )  # fmt: skip
    result = check_result(outcomes, rows=rows)
    held = "" if source.name in PRIVACY_SOURCES else "held back from the models: "
    if failed_files:
        shown = ", ".join(failed_files[:5]) + (f" and {len(failed_files) - 5} more" if len(failed_files) > 5 else "")
        return _amended(
            result,
            description=f"{held}{shown}; {result.description}",
            metadata={**result.metadata, "failed_files": dg.MetadataValue.json(failed_files)},
        )
    quarantined = _quarantined(con, [file for file, _ in pending])
    if quarantined:
        counted = ", ".join(f"{reason} ({count:,})" for reason, count in quarantined[:3])
        total = sum(count for _, count in quarantined)
        return _amended(
            result,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{total:,} row(s) quarantined, the rest loaded: {counted} (tessera files)",
        )
    return result


def _amended(
    result: dg.AssetCheckResult,
    description: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    metadata: dict | None = None,
) -> dg.AssetCheckResult:
    """`result`, failed, with another description (and severity, metadata)."""
    return dg.AssetCheckResult(
        check_name=result.check_name,
        asset_key=result.asset_key,
        passed=False,
        severity=severity,
        description=description[:2000],
        metadata=result.metadata if metadata is None else metadata,
    )


def _quarantined(con: duckdb.DuckDBPyConnection, files: list[str]) -> list[tuple[str, int]]:
    """The quarantine reasons of `files`, by the column or problem they name, most frequent first."""
    if not files or not table_exists(con, "raw", "_quarantine"):
        return []
    return con.execute(
        "select split_part(reason, ':', 1) as why, count(*) from raw._quarantine "
        "where file in (select unnest(?::varchar[])) group by 1 order by 2 desc, 1",
        [files],
    ).fetchall()


def _groups(files: list[tuple[str, int]], max_rows: int) -> Iterator[list[str]]:
    group, rows = [], 0
    for name, count in files:
        if group and rows + count > max_rows:
            yield group
            group, rows = [], 0
        group.append(name)
        rows += count
    if group:
        yield group


# Marts and activation ------------------------------------------------------------------------------------------
def build_warehouse_checks(keys: list[dg.AssetKey]) -> dg.AssetChecksDefinition:
    """The marts' and activation models' suites, for those of `keys` (the dbt assets) that have one."""
    checked = [key for key in keys if "/".join(key.path) in MART_SUITES or key.path[0] == "activation"]
    specs = [check_spec(key, _what(key)) for key in checked]

    @dg.multi_asset_check(specs=specs, can_subset=True, name="warehouse_quality")
    def warehouse_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        selected = {check_key.asset_key for check_key in context.selected_asset_check_keys}
        with warehouse.read() as con:
            for key in (key for key in checked if key in selected):
                suite = _suite_for(con, key)
                yield check_result([validate(con, suite)], asset_key=key)

    return warehouse_checks


def _suite_for(con: duckdb.DuckDBPyConnection, key: dg.AssetKey):
    name = "/".join(key.path)
    if name in MART_SUITES:
        return MART_SUITES[name]()
    model = key.path[-1]
    columns = [column[0] for column in con.execute(f"select * from activation.{model} limit 0").description]
    return activation_suite(model, ACTIVATION_KEYS.get(model, "customer_id"), columns)


def _what(key: dg.AssetKey) -> str:
    return {
        "marts/customer_profiles": "one row per customer, email syntax, E.164 phones, consent booleans not null, "
        "no personal data on erased customers",
        "marts/segment_memberships": "each segment's size within the allowed change from before the last build",
    }.get("/".join(key.path), "one row per key, email syntax, E.164 phones, consent and suppression flags not null")


def _table(results: list[dict]) -> str:
    lines = ["| suite | expectation | column | met | unexpected |", "|---|---|---|---|---|"]
    for r in results:
        unexpected = "" if r.get("unexpected") is None else f"{r['unexpected']:,}"
        lines.append(f"| {r['suite']} | {r['expectation']} | {r['column'] or ''} | {'yes' if r['success'] else 'NO'} "
                     f"| {unexpected} |")  # fmt: skip
    return "\n".join(lines)
