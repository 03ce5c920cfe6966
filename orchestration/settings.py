"""Where Tessera's files are: the project, the warehouse and the landing folder (`shared/contracts/warehouse.md`).

Read when asked, never at import: `TESSERA_WAREHOUSE` and `TESSERA_LANDING_DIR` override the defaults, and a
relative value is taken from the current directory, as a user typing it would expect.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
WAREHOUSE_ENV = "TESSERA_WAREHOUSE"
DEFAULT_OWNER = "team:data"  # the Dagster owner of assets whose definition names none
LANDING_ENV = "TESSERA_LANDING_DIR"


def warehouse_path() -> Path:
    configured = os.environ.get(WAREHOUSE_ENV)
    return Path(configured).resolve() if configured else PROJECT_DIR / "warehouse" / "tessera.duckdb"


def landing_dir() -> Path:
    configured = os.environ.get(LANDING_ENV)
    return Path(configured).resolve() if configured else PROJECT_DIR / "data" / "landing"
