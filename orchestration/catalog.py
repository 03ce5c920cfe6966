"""The catalog a person opens: dbt's docs site, built from the project and the warehouse's own catalog.

`build_docs` runs `dbt docs generate` against a warehouse (so column types and row counts are the warehouse's)
and returns the folder of the static site (`target/`: index.html with manifest.json and catalog.json); the
project must be prepared first (`orchestration.prepare`). `serve_docs` serves it with `dbt docs serve`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tessera.settings import MANIFEST, PROJECT_DIR

from .prepare import DBT_EXECUTABLE, dbt_variables


class DocsBuildFailed(RuntimeError):
    pass


def _dbt(command: list[str], site: Path = MANIFEST.parent) -> list[str]:
    return [DBT_EXECUTABLE, "docs", *command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(site)]  # fmt: skip


def build_docs(warehouse: Path, compile_sql: bool = True) -> Path:
    """`compile_sql=False` leaves out the compiled SQL of each model (it needs a built warehouse to compile)."""
    command = _dbt(["generate", "--quiet", *([] if compile_sql else ["--no-compile"])])
    env = {**os.environ, **dbt_variables(warehouse)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=PROJECT_DIR)
    if done.returncode != 0:
        raise DocsBuildFailed(f"dbt docs generate failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return MANIFEST.parent


def serve_command(port: int, host: str = "127.0.0.1", site: Path = MANIFEST.parent) -> list[str]:
    """`dbt docs serve` of the site built in `site`, without opening a browser."""
    return _dbt(["serve", "--port", str(port), "--host", host, "--no-browser"], site)


def serve_docs(warehouse: Path, port: int, host: str = "127.0.0.1") -> int:
    """Serves the built site until Ctrl-C; dbt's exit status."""
    env = {**os.environ, **dbt_variables(warehouse)}
    try:
        return subprocess.run(serve_command(port, host), env=env, cwd=PROJECT_DIR).returncode
    except KeyboardInterrupt:
        return 0
