"""Tessera's Dagster code location: `dagster dev -m orchestration.definitions` (what `tessera ui` runs) and
`dagster definitions validate -m orchestration.definitions`.

Importing this module does nothing. When Dagster loads the code location, it prepares the project first
(`orchestration.prepare`: the syncs validated, the segments compiled, dbt parsed if anything changed), so that a
sync missing a setting fails here, naming its file and field, before anything runs; then it builds the
definitions (`orchestration.defs`).
"""

import dagster as dg

from tessera.settings import settings

from .defs import definitions
from .prepare import known_events, prepare


@dg.definitions
def defs() -> dg.Definitions:
    prepare(known_events=known_events(settings().warehouse))
    return definitions()
