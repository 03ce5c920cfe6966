"""The Dagster instance: where runs, event logs and schedule and sensor state are kept.

By default a local home inside the project, `.dagster_home/` (SQLite; nothing is written to the user's home),
whose dagster.yaml is made from `local.yaml` here on first use. A `DAGSTER_HOME` set in the environment wins:
production points it at a folder whose dagster.yaml is `postgres.yaml` (PostgreSQL storage through
dagster-postgres, at `TESSERA_DAGSTER_POSTGRES_URL`). The demo keeps its own history, always local
(`DEMO_HOME`), so its runs never mix with those of your own warehouse.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from tessera.settings import PROJECT_DIR

TEMPLATES = Path(__file__).parent
LOCAL_HOME = PROJECT_DIR / ".dagster_home"
DEMO_HOME = LOCAL_HOME / "demo"


def dagster_home(home: Path | None = None) -> Path:
    """The instance's folder (`home`, else DAGSTER_HOME, else LOCAL_HOME), with its dagster.yaml (made from
    local.yaml when missing)."""
    home = Path(home or os.environ.get("DAGSTER_HOME") or LOCAL_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(TEMPLATES / "local.yaml", home / "dagster.yaml")
    return home


def project_instance(home: Path | None = None) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home(home)))
