"""The catalog a person opens: dbt's docs site, built from the project and the warehouse's own catalog.

`build_docs` runs `dbt docs generate` against a warehouse (so column types and row counts are the warehouse's),
after compiling the declared segments and the syncs' exposures, and returns the folder of the static site
(`target/`: index.html with manifest.json and catalog.json). `serve_docs` serves that folder over HTTP.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import settings
from .dbt_project import DBT_EXECUTABLE, prepare_dbt_project_if_needed, tessera_dbt_project


class DocsBuildFailed(RuntimeError):
    pass


def build_docs(warehouse: Path, compile_sql: bool = True) -> Path:
    """`compile_sql=False` leaves out the compiled SQL of each model (it needs a built warehouse to compile)."""
    prepare_dbt_project_if_needed()
    env = dict(os.environ, **{settings.WAREHOUSE_ENV: str(warehouse)})
    target = settings.PROJECT_DIR / tessera_dbt_project.target_path
    command = [DBT_EXECUTABLE, "docs", "generate", "--project-dir", str(settings.PROJECT_DIR),
               "--profiles-dir", str(settings.PROJECT_DIR), "--target-path", str(target), "--quiet",
               *([] if compile_sql else ["--no-compile"])]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=settings.PROJECT_DIR)
    if done.returncode != 0:
        raise DocsBuildFailed(f"dbt docs generate failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return target


def serve_docs(site: Path, port: int, host: str = "127.0.0.1") -> None:
    handler = functools.partial(_QuietHandler, directory=str(site))
    with ThreadingHTTPServer((host, port), handler) as server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass
