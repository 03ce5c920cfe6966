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


ERASURE_SLA_ENV = "TESSERA_ERASURE_SLA_DAYS"


def erasure_sla_days() -> float:
    """Days an erasure may wait for a destination's confirmation before its check fails (GDPR allows a month)."""
    configured = os.environ.get(ERASURE_SLA_ENV, "7")
    try:
        days = float(configured)
    except ValueError:
        raise ValueError(f"{ERASURE_SLA_ENV}={configured!r} is not a number of days") from None
    if days <= 0:
        raise ValueError(f"{ERASURE_SLA_ENV}={configured!r} must be more than 0 days")
    return days
