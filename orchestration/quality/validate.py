"""Running a suite: its rows read from the warehouse into a DataFrame, validated by Great Expectations, and the
outcome told the way a person needs it: table, column, expectation, how many rows, and a few failing values,
masked where the column holds personal data (tagged `pii` in the dbt project, or named like it).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import duckdb
import great_expectations as gx

from tessera.settings import MANIFEST

from .suites import Suite

SAMPLES = 3
PERSONAL = re.compile(
    r"(email|phone|first_name|last_name|_name$|^name$|street|birth_date|postal_code|card_number|user_id|"
    r"anonymous_id|requester|^ip$|address)"
)


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str | None
    unexpected: int | None
    samples: tuple[str, ...]
    checked: int | None = None  # the rows the expectation looked at (those its row condition selects)

    def describe(self, table: str, rows: int) -> str:
        where = f"{table}.{self.column}" if self.column else table
        total = rows if self.checked is None else self.checked
        count = f"{self.unexpected:,} of {total:,} rows" if self.unexpected is not None else "failed"
        examples = f", e.g. {', '.join(self.samples)}" if self.samples else ""
        return f"{where}: {self.expectation}: {count}{examples}"


@dataclass
class Outcome:
    suite: str
    rows: int
    failures: list[Failure] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def describe(self) -> str:
        if self.passed:
            return f"{self.suite}: {len(self.results)} expectations met on {self.rows:,} rows"
        return "; ".join(failure.describe(self.suite, self.rows) for failure in self.failures)


def validate(con: duckdb.DuckDBPyConnection, suite: Suite) -> Outcome:
    frame = con.sql(suite.query).df()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = _no_progress_bars()
    batch = context.data_sources.add_pandas("warehouse").add_dataframe_asset(suite.name)
    definition = batch.add_batch_definition_whole_dataframe("rows")
    expectations = context.suites.add(gx.ExpectationSuite(name=f"{suite.name}.{uuid.uuid4().hex[:8]}"))
    for expectation in suite.expectations:
        expectations.add_expectation(expectation)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=definition, suite=expectations)
    )
    result = validation.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLES},
    )
    outcome = Outcome(suite.name, len(frame))
    for item in result.results:
        config = item.expectation_config
        column = config.kwargs.get("column")
        unexpected = item.result.get("unexpected_count")
        outcome.results.append(
            {"expectation": config.type, "column": column, "success": bool(item.success), "unexpected": unexpected}
        )
        if not item.success:
            values = item.result.get("partial_unexpected_list") or []
            if not values and item.exception_info.get("raised_exception"):
                values = [str(item.exception_info.get("exception_message", ""))[:200]]
            shown = tuple(_shown(suite.name, column, value) for value in values[:SAMPLES])
            outcome.failures.append(Failure(config.type, column, unexpected, shown, item.result.get("element_count")))
    return outcome


def _shown(table: str, column: str | None, value: Any) -> str:
    text = str(value)
    if column and is_personal(table, column):
        return f"{text[:1]}… ({len(text)} characters, personal data)"
    shown = repr(value) if isinstance(value, str) else text
    return shown if len(shown) <= 60 else shown[:57] + "..."


def is_personal(table: str, column: str) -> bool:
    """Tagged `pii` in the dbt project's YAML (models, and the raw sources), or named like personal data."""
    tagged = _pii_columns()
    return (table, column) in tagged or bool(PERSONAL.search(column))


@cache
def _pii_columns() -> frozenset[tuple[str, str]]:
    manifest_path = MANIFEST
    if not manifest_path.exists():
        return frozenset()
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    tagged = set()
    for node in [*manifest.get("nodes", {}).values(), *manifest.get("sources", {}).values()]:
        relation = f"{node.get('schema')}.{node.get('identifier') or node.get('name')}"
        for name, column in node.get("columns", {}).items():
            if (column.get("meta") or {}).get("pii"):
                tagged.add((relation, name))
    return frozenset(tagged)


def _no_progress_bars():
    from great_expectations.data_context.types.base import ProgressBarsConfig

    return ProgressBarsConfig(globally=False)
