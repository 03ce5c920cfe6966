"""A dbt exposure per sync (`models/activation/_syncs__exposures.yml`, generated), so dbt docs show which
destination each activation model feeds, in which mode and under which consent. Written before every parse."""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestration.generated import write_if_changed
from orchestration.settings import PROJECT_DIR

from .definitions import SyncDefinition

EXPOSURES_FILE = Path("models") / "activation" / "_syncs__exposures.yml"
NOTICE = "# Generated from reverse_etl/syncs/*.yml before every dbt parse: edit the syncs, not this file.\n"


def _consents(sync: SyncDefinition) -> str:
    return " and ".join(f"consent_{purpose}" for purpose in sync.consents)


def write_exposures(syncs: list[SyncDefinition], project_dir: Path = PROJECT_DIR) -> bool:
    exposures = [
        {
            "name": sync.name,
            "label": f"{sync.name} ({sync.destination_type}, {sync.mode})",
            "type": "application",
            "owner": {"name": "Tessera reverse ETL"},
            "description": (
                f"Syncs activation.{sync.model}{f' where {sync.where}' if sync.where else ''} to "
                f"{sync.destination_type} in {sync.mode} mode, keyed by {sync.primary_key}; only rows with "
                f"{_consents(sync)} that are not suppressed. Defined in reverse_etl/syncs/"
                f"{sync.defined_in.name}."
            ),
            "depends_on": [f"ref('{sync.model}')"],
            "config": {
                "meta": {
                    "destination": sync.destination_type,
                    "mode": sync.mode,
                    "consent_purpose": ", ".join(sync.consents),
                    "fields": [mapping.target for mapping in sync.mapping],
                    "schedule": sync.schedule or "with every tessera run",
                }
            },
        }
        for sync in syncs
    ]
    body = yaml.safe_dump({"version": 2, "exposures": exposures}, sort_keys=False, allow_unicode=True, width=110)
    return write_if_changed(project_dir / EXPOSURES_FILE, NOTICE + body)
