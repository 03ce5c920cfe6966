"""Shared fixtures: a small generated landing folder, and fresh warehouses to load it into.

Markers:
- `pipeline`: runs Dagster and dbt end to end (slower; deselect with `-m "not pipeline"` while iterating).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.demo_data import GenerationSummary, generate

SMALL = {"customers": 400, "days": 6, "seed": 11}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pipeline: runs the whole pipeline through Dagster and dbt")


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    """A small demo landing folder, generated once per test session; tests must not modify it."""
    out = tmp_path_factory.mktemp("landing") / "landing"
    return out, generate(out, **SMALL)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Where a test's warehouse goes; the folder exists, the file does not yet."""
    (tmp_path / "warehouse").mkdir()
    return tmp_path / "warehouse" / "tessera.duckdb"
