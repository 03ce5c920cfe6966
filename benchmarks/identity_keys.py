"""What reading emails and phones with the libraries costs: the identity plugin's SQL functions against the
macros' SQL fallback, on the same rows, side by side in one run.

    python benchmarks/identity_keys.py --rows 2000000 --distinct 200000

Builds a table of `--rows` emails and phones with `--distinct` different values of each (as events repeat their
people's addresses), then times, three times each, `tessera_email_key` / `tessera_phone_key` (email-validator and
phonenumbers, once per distinct value of a batch) and the engine-neutral SQL of `normalize_email` /
`normalize_phone` that other engines run, compiled by dbt. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from identity.dbt_plugin import register  # noqa: E402
from identity.normalize import email_key, phone_key  # noqa: E402

EMAIL_SQL = "select {{ tessera.default__normalize_email('email') }} from keys"
PHONE_SQL = "select {{ tessera.default__normalize_phone('phone', 'country') }} from keys"


def compiled(inline: str, workdir: Path) -> str:
    """The macro's fallback SQL as dbt renders it (its phone rules read from the seed, built first)."""
    dbt = str(Path(sys.executable).with_name("dbt"))
    env = dict(os.environ, TESSERA_WAREHOUSE=str(workdir / "compile.duckdb"))
    common = ["--profiles-dir", str(ROOT), "--target-path", str(workdir / "target"), "--log-path", str(workdir)]
    if not (workdir / "compile.duckdb").exists():
        subprocess.run([dbt, "seed", "--quiet", "-s", "country_calling_codes", *common], env=env, cwd=ROOT, check=True)
    result = subprocess.run([dbt, "compile", "--quiet", "--inline", inline, "--output", "json", *common], env=env,
                            cwd=ROOT, check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(result.stdout)["compiled"]


def timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    """The median of three runs, each from cold (a build is a new process: nothing read yet)."""
    runs = []
    for _ in range(3):
        email_key.cache_clear()
        phone_key.cache_clear()
        started = time.perf_counter()
        con.execute(f"select count(k) from ({sql}) as t(k)").fetchone()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--distinct", type=int, default=200_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tessera-keys-"))
    email_fallback, phone_fallback = compiled(EMAIL_SQL, workdir), compiled(PHONE_SQL, workdir)
    con = duckdb.connect()
    register(con)
    con.execute(
        "create table keys as select "
        "'Person.' || (i % ?) || '@Example' || (i % ? % 97) || '.com' as email, "
        "'06' || lpad(((i % ?) * 7919 % 100000000)::varchar, 8, '0') as phone, 'FR' as country "
        "from range(?) r(i)",
        [args.distinct, args.distinct, args.distinct, args.rows],
    )
    print(f"\n{args.rows:,} rows, {args.distinct:,} distinct emails and phones\n")
    print(f"{'':<34}{'plugin (libraries)':>20}{'SQL fallback':>14}{'ratio':>8}")
    for name, plugin, fallback in (
        ("emails", "select tessera_email_key(email) from keys", email_fallback),
        ("phones", "select tessera_phone_key(phone, country) from keys", phone_fallback),
    ):
        library_seconds, sql_seconds = timed(con, plugin), timed(con, fallback)
        print(f"{name:<34}{library_seconds:>18.2f} s{sql_seconds:>12.2f} s{library_seconds / sql_seconds:>7.1f}×")
    print("\n(the plugin reads each distinct value of a batch once; the SQL reads every row)")


if __name__ == "__main__":
    main()
