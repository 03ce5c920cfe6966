"""Data quality with Great Expectations: the suites (suites.py), how one runs and reports (validate.py), and the
Dagster asset checks that run them and block what is downstream of a failure (checks.py)."""
