"""Tessera's orchestration: the landing contract, the demo data, the loaders and the Dagster definitions."""
