"""Dagster resources for the warehouse and the landing folder.

Both default to the settings (`TESSERA_WAREHOUSE`, `TESSERA_LANDING_DIR`, else the project's own folders), read
when a run uses them, so the same definitions serve `tessera run`, `dagster dev` and tests, which point them at
temporary paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from tessera.settings import environment, settings
from tessera.warehouse import LOADER_MEMORY_LIMIT, connect, read_only

from ..prepare import dbt_variables

DEFAULT_OWNER = "team:data"  # the Dagster owner of assets whose definition names none


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file that loaders write into and dbt builds in."""

    path: str | None = None
    memory_limit: str = LOADER_MEMORY_LIMIT  # DuckDB's memory_limit for loader connections

    @property
    def resolved_path(self) -> Path:
        return Path(self.path).resolve() if self.path else settings().warehouse

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.resolved_path, self.memory_limit)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def exported_to_dbt(self) -> Iterator[None]:
        """dbt reads the warehouse, its target and memory limit from the environment (profiles.yml): point them at
        this warehouse and the settings for the time of a build."""
        with environment(dbt_variables(self.resolved_path)):
            yield

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = read_only(self.resolved_path)
        try:
            yield con
        finally:
            con.close()


class LandingFolder(dg.ConfigurableResource):
    """The folder the source systems drop files into, one sub-folder per source (`sources.md`)."""

    path: str | None = None

    @property
    def resolved_path(self) -> Path:
        return Path(self.path).resolve() if self.path else settings().landing_dir
