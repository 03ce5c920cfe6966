"""Every `TESSERA_*` knob in one typed object, checked when it is read; and the project's own facts.

`settings()` reads the environment each time it is called (never at import), so a test or a command that sets a
variable sees it at once. A value that does not fit raises `SettingsError` naming the variable and what it takes.
A relative path is taken from the current directory, as a user typing it would expect. The README's table of
variables is checked against this class by the tests (`tests/test_architecture.py`), and profiles.yml's
fall-backs (for a plain `dbt build`) against its defaults.

Project facts that are not knobs: where the project is (`PROJECT_DIR`), the consent purposes the dbt project
declares (`consent_purposes`), and where dbt writes its manifest (`MANIFEST`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_YML = PROJECT_DIR / "dbt_project.yml"
MANIFEST = PROJECT_DIR / "target" / "manifest.json"
ENV_PREFIX = "TESSERA_"
CRON = re.compile(r"^\s*(\S+\s+){4}\S+\s*$")
MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


class SettingsError(ValueError):
    """A `TESSERA_*` variable holds a value its setting cannot take; the message names each one."""


def _cron(value: str) -> str:
    if not CRON.match(value):
        raise ValueError("expected a cron schedule of five fields, e.g. 0 3 * * *")
    return value.strip()


def _memory(value: str) -> str:
    if not MEMORY.match(value):
        raise ValueError("expected an amount of memory such as 4GB or 512MB")
    return value.strip()


def _resolved(value: Path) -> Path:
    return value.expanduser().resolve()


Cron = Annotated[str, AfterValidator(_cron)]
Memory = Annotated[str, AfterValidator(_memory)]
Folder = Annotated[Path, AfterValidator(_resolved)]


class Settings(BaseSettings):
    """Tessera's settings, each read from `TESSERA_<NAME>` (upper case). The description of each field is its row
    in the README's table."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    warehouse: Folder = Field(
        PROJECT_DIR / "warehouse" / "tessera.duckdb",
        description="The DuckDB file the loaders write and dbt builds in.",
    )
    landing_dir: Folder = Field(
        PROJECT_DIR / "data" / "landing", description="The landing folder, one sub-folder per source."
    )
    syncs_dir: Folder = Field(
        PROJECT_DIR / "reverse_etl" / "syncs", description="The folder of sync definitions (`*.yml`)."
    )
    dbt_target: str = Field("duckdb", description="The dbt target in `profiles.yml`.")
    duckdb_memory_limit: Memory = Field(
        "4GB", description="DuckDB's memory limit for `dbt build`; it spills to disk past it."
    )
    erasure_sla_days: float = Field(
        7,
        gt=0,
        description="Days an erasure may wait for a destination's confirmation before its check fails (GDPR "
        "allows a month).",
    )
    step_retries: int = Field(
        2, ge=0, description="How often a loader or sync step that failed for a passing reason is tried again."
    )
    step_retry_seconds: float = Field(30, ge=0, description="Seconds before the first retry; each next doubles.")
    pipeline_cron: Cron = Field("0 3 * * *", description="When the daily pipeline runs (cron, UTC).")
    full_checks_cron: Cron = Field(
        "0 4 * * 0",
        description="When the pipeline runs with every data test over its whole table (cron, UTC; weekly).",
    )
    syncs_cron: Cron = Field(
        "0 * * * *", description="When the syncs whose definition names no `schedule:` run (cron, UTC)."
    )
    sensor_seconds: int = Field(60, gt=0, description="Seconds between two looks at the landing folder.")
    source_freshness_hours: float = Field(
        26, gt=0, description="Hours after a source's last load when its freshness check fails."
    )
    mart_freshness_hours: float = Field(
        26, gt=0, description="Hours after a mart's last build when its freshness check fails."
    )
    max_quarantine_ratio: float = Field(
        0.05, ge=0, le=1, description="The share of a file's rows that may be quarantined before it is held back."
    )
    validation_rows: int = Field(
        500_000, gt=0, description="At most this many raw rows are validated in one go (bounds the memory)."
    )
    max_segment_change: float = Field(
        0.5, gt=0, description="The share by which a segment may grow or shrink in one build before its check fails."
    )
    segment_change_min_size: int = Field(
        50, ge=0, description="Segments smaller than this are not held to `TESSERA_MAX_SEGMENT_CHANGE`."
    )
    dagster_postgres_url: str | None = Field(
        None, description="The PostgreSQL database of a production Dagster instance (`postgres.yaml`)."
    )
    require_services: bool = Field(
        False, description="Tests: fail, instead of skipping, when PostgreSQL or the browser is missing (CI)."
    )
    test_postgres_dsn: str = Field(
        "host=127.0.0.1 port=5432 dbname=test user=postgres", description="Tests: the PostgreSQL the tests use."
    )
    chromium: Path = Field(Path("/usr/bin/chromium"), description="Tests: the browser the UI tests drive.")

    def variable(self, name: str) -> str:
        return f"{ENV_PREFIX}{name.upper()}"


def settings() -> Settings:
    """The settings as the environment says now; `SettingsError` names every variable that does not fit."""
    try:
        return Settings()
    except ValidationError as error:
        problems = [
            f"{ENV_PREFIX}{str(problem['loc'][0]).upper()}={problem.get('input')!r}: {_message(problem)}"
            for problem in error.errors()
        ]
        raise SettingsError("; ".join(problems)) from None


def _message(problem: dict) -> str:
    message = str(problem["msg"])
    return message.removeprefix("Value error, ")


def shown(path: Path) -> str:
    """A path as a person reads it: relative to the project when inside it."""
    return str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path)


def consent_purposes(dbt_project_yml: Path = DBT_PROJECT_YML) -> list[str]:
    """The consent purposes the dbt project declares (var `consent_purposes`): what segments and syncs may ask for."""
    return list(yaml.safe_load(dbt_project_yml.read_text(encoding="utf-8"))["vars"]["consent_purposes"])


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """`variables` set in this process's environment (for a child that reads it: dbt, a sync's `{env: ...}`),
    and what was there before put back afterwards."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
