"""Segments: declared in YAML by marketers or written as dbt models by analytics engineers, one result.

`declarations` reads and validates the YAML, `compile` turns it into dbt models, `report` shows sizes, changes
and overlaps of the built segments.
"""
