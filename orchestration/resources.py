"""Dagster resources for the warehouse and the landing folder.

Both default to the settings (`TESSERA_WAREHOUSE`, `TESSERA_LANDING_DIR`, else the project's own folders), so
the same definitions serve `tessera run`, `dagster dev` and tests, which point them at temporary paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from . import settings
from .loading.warehouse import LOADER_MEMORY_LIMIT, connect


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file that loaders write into and dbt builds in."""

    path: str | None = None
    memory_limit: str = LOADER_MEMORY_LIMIT  # DuckDB's memory_limit for loader connections

    @property
    def resolved_path(self) -> Path:
        return Path(self.path).resolve() if self.path else settings.warehouse_path()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.resolved_path, self.memory_limit)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def exported_to_dbt(self) -> Iterator[None]:
        """dbt reads the warehouse path from `TESSERA_WAREHOUSE` (profiles.yml): point it at this one."""
        previous = os.environ.get(settings.WAREHOUSE_ENV)
        os.environ[settings.WAREHOUSE_ENV] = str(self.resolved_path)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(settings.WAREHOUSE_ENV, None)
            else:
                os.environ[settings.WAREHOUSE_ENV] = previous


class LandingFolder(dg.ConfigurableResource):
    """The folder the source systems drop files into, one sub-folder per source (`sources.md`)."""

    path: str | None = None

    @property
    def resolved_path(self) -> Path:
        return Path(self.path).resolve() if self.path else settings.landing_dir()
