"""Shared fixtures: a small generated landing folder, and fresh warehouses to load it into.

Markers:
- `pipeline`: runs Dagster and dbt end to end (slower; deselect with `-m "not pipeline"` while iterating).
- `browser`: drives headless Chromium through Playwright (skipped, with the reason, where Chromium is absent).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.demo_data import GenerationSummary, generate
from tessera.settings import settings

SMALL = {"customers": 400, "days": 6, "seed": 11}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pipeline: runs the whole pipeline through Dagster and dbt")
    config.addinivalue_line("markers", "browser: drives headless Chromium (Debian's chromium) with Playwright")


@pytest.fixture(scope="session", autouse=True)
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests keep their Dagster runs in a home of their own, never in the project's `.dagster_home/`; the
    `tessera` commands they start inherit it."""
    home = tmp_path_factory.mktemp("dagster_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        yield home


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    """A small demo landing folder, generated once per test session; tests must not modify it."""
    out = tmp_path_factory.mktemp("landing") / "landing"
    return out, generate(out, **SMALL)


POSTGRES_DSN = settings().test_postgres_dsn


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The local PostgreSQL's DSN. Absent, the test is skipped with the reason, or fails where
    TESSERA_REQUIRE_SERVICES=1 (as CI sets it)."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if settings().require_services:
            pytest.fail(
                f"PostgreSQL is required (TESSERA_REQUIRE_SERVICES=1) but unreachable at {POSTGRES_DSN}: {error}"
            )
        pytest.skip(f"no PostgreSQL at {POSTGRES_DSN} (set TESSERA_TEST_POSTGRES_DSN): {error}")
    return POSTGRES_DSN


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Where a test's warehouse goes; the folder exists, the file does not yet."""
    (tmp_path / "warehouse").mkdir()
    return tmp_path / "warehouse" / "tessera.duckdb"
