"""What the benchmark scripts share: their arguments, the generated landing folder, a measured child process."""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestration.demo_data import generate  # noqa: E402


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-bench"))
    return parser.parse_args()


def landing_folder(args: argparse.Namespace) -> Path:
    """The generated landing folder for these arguments, generated (and timed) on first use."""
    landing = args.workdir / f"landing-v2-{args.customers}x{args.days}-s{args.seed}"
    if not (landing / "_truth" / "identity.csv").exists():
        print(f"generating {args.customers:,} customers x {args.days} days into {landing} ...", flush=True)
        started = time.perf_counter()
        summary = generate(landing, args.customers, args.days, args.seed)
        seconds = time.perf_counter() - started
        records = sum(summary.records.values())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"generated {records:,} records in {seconds:.1f}s ({records / seconds:,.0f} records/s, peak {peak:.0f} MiB)"
        )
    return landing


@dataclass(frozen=True)
class Measured:
    output: str
    seconds: float
    peak_mib: float


def run_measured(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Runs a child process from the project root; its output, wall time and own peak memory (max RSS)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return Measured(output, time.perf_counter() - started, usage.ru_maxrss / 1024)


def scipy_timed(a, b, repeats: int):
    """scipy.sparse.csgraph.connected_components on the edges `a`-`b` (numpy arrays), `repeats` times, the sparse
    matrix build included: (the timings, each node's label). Its time varies by 2x from run to run on a shared
    machine, hence the repeats."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    size = int(max(a.max(), b.max())) + 1
    timings, labels = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size)).tocsr()
        _, labels = connected_components(graph, directed=False)
        timings.append(time.perf_counter() - started)
    return timings, labels
