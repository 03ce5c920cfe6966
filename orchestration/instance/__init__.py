"""The Dagster instance: where runs, event logs and schedule and sensor state are kept.

By default a local home inside the project, `.dagster_home/` (SQLite; nothing is written to the user's home),
whose dagster.yaml is made from `local.yaml` here on first use. A `DAGSTER_HOME` set in the environment wins:
production points it at a folder whose dagster.yaml is `postgres.yaml` (PostgreSQL storage through
dagster-postgres, at `TESSERA_DAGSTER_POSTGRES_URL`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from ..settings import PROJECT_DIR

TEMPLATES = Path(__file__).parent
LOCAL_HOME = PROJECT_DIR / ".dagster_home"


def dagster_home() -> Path:
    """The instance's folder, with its dagster.yaml (made from local.yaml when missing)."""
    home = Path(os.environ.get("DAGSTER_HOME") or LOCAL_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(TEMPLATES / "local.yaml", home / "dagster.yaml")
    return home


def project_instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home()))
