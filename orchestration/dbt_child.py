"""`tessera-dbt`: dbt, as a child that dies with the process that started it.

dagster-dbt runs `dbt build` as a subprocess. Were the run's process killed outright (`kill -9`, the out-of-memory
killer), dbt would go on alone, holding the warehouse's write lock, and the next run could not start. This
launcher asks Linux to end it when its parent dies (`PR_SET_PDEATHSIG`), then becomes the dbt installed beside
it (exec: the same process, so dbt's own Ctrl-C handling is untouched). Elsewhere it simply runs dbt.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent = os.getppid()
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            raise SystemExit(1)
    dbt = Path(sys.executable).with_name("dbt")
    os.execv(dbt, [str(dbt), *sys.argv[1:]])
