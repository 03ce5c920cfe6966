"""Identity resolution's Python side: emails and phones read as the standards define them (`normalize`), and
the dbt-duckdb plugin that makes those readings SQL functions for the identity models (`dbt_plugin`)."""
